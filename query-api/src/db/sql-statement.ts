/** A parameterised SQL statement (or a fragment of one): what every SQL module returns and `pool.query` takes. */
export interface SqlStatement {
  text: string;
  values: unknown[];
}
