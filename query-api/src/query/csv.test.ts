import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from './csv.ts';

describe('CSV encoding', () => {
  it('is read back cell for cell by a standard RFC 4180 parser, whatever the cells hold', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), (cells) => {
        // A leading fixed cell keeps an all-empty row from reading as a blank line.
        const row = ['id', ...cells];
        expect(parse(csvLine(row))).toEqual([row]);
      }),
      { numRuns: 1000 },
    );
  });

  it('neutralises cells a spreadsheet would run as formulas', () => {
    for (const text of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(text)).toBe(`'${text}`);
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell({ a: 1 })).toBe('{"a":1}');
    expect(csvCell(null)).toBe('');
  });
});
