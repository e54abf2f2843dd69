import { decimalToUnits, unitsToDecimal } from '@observatory/exporter-postgres';

/** One stored row of a trace: a model call (`kind` model) or an agent, tool, … span. */
export interface TraceRow {
  kind: string;
  id: string;
  span_id: string | null;
  parent_span_id: string | null;
  name: string;
  created_at: Date;
  latency_ms: number;
  success: boolean;
  error_code: string | null;
  service_name: string | null;
  endpoint: string | null;
  user_id: string | null;
  session_id: string | null;
  model_name: string | null;
  agent_name: string | null;
  tool_name: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: string | null;
}

export interface Totals {
  spans: number;
  model_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  errors: number;
}

export interface TreeNode extends Omit<TraceRow, 'created_at'> {
  created_at: string;
  depth: number;
  children: number;
  /** This span and everything below it. */
  subtree: Totals;
  on_critical_path: boolean;
}

export interface TraceTree {
  /** Depth first, each span before its children, siblings by start. */
  spans: TreeNode[];
  /** Span ids from the root down: at each level, the child that ended last (what the parent waited for). */
  critical_path: string[];
  totals: Totals;
}

interface Node {
  row: TraceRow;
  key: string;
  children: Node[];
  end: number;
  totals: { spans: number; model_calls: number; input: number; output: number; cost: bigint; errors: number };
}

const byStart = (a: Node, b: Node) => a.row.created_at.getTime() - b.row.created_at.getTime();

/**
 * The tree of a trace's stored rows, with per-subtree totals and the critical path. A row whose parent is not
 * stored (an HTTP span, or a parent in another service) is a root; several roots sit side by side, earliest first.
 * Pure, and linear in the rows; a parent cycle in malformed data is broken rather than followed.
 */
export function buildTraceTree(rows: readonly TraceRow[]): TraceTree {
  const nodes = rows.map(
    (row): Node => ({
      row,
      key: row.span_id ?? row.id,
      children: [],
      end: row.created_at.getTime() + row.latency_ms,
      totals: { spans: 0, model_calls: 0, input: 0, output: 0, cost: 0n, errors: 0 },
    }),
  );
  const byKey = new Map(nodes.map((n) => [n.key, n]));
  const roots: Node[] = [];
  for (const node of nodes) {
    const parent = node.row.parent_span_id ? byKey.get(node.row.parent_span_id) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }

  // Pre-order from the roots; nodes a cycle keeps out of reach become roots of their own.
  const order: { node: Node; depth: number }[] = [];
  const seen = new Set<Node>();
  const walk = (root: Node) => {
    const stack = [{ node: root, depth: 0 }];
    while (stack.length > 0) {
      const item = stack.pop()!;
      if (seen.has(item.node)) continue;
      seen.add(item.node);
      order.push(item);
      item.node.children.sort(byStart);
      for (let i = item.node.children.length - 1; i >= 0; i--) {
        stack.push({ node: item.node.children[i]!, depth: item.depth + 1 });
      }
    }
  };
  roots.sort(byStart).forEach(walk);
  for (const node of nodes) {
    if (!seen.has(node)) {
      roots.push(node);
      walk(node);
    }
  }

  // Totals bottom-up: reverse pre-order visits every child before its parent.
  for (let i = order.length - 1; i >= 0; i--) {
    const { node } = order[i]!;
    const t = node.totals;
    const own = node.row;
    t.spans += 1;
    if (own.kind === 'model') {
      t.model_calls += 1;
      t.input += own.input_tokens ?? 0;
      t.output += own.output_tokens ?? 0;
      t.cost += own.cost_usd ? decimalToUnits(own.cost_usd) : 0n;
    }
    if (!own.success) t.errors += 1;
    for (const child of node.children) {
      if (!seen.has(child) || child === node) continue;
      t.spans += child.totals.spans;
      t.model_calls += child.totals.model_calls;
      t.input += child.totals.input;
      t.output += child.totals.output;
      t.cost += child.totals.cost;
      t.errors += child.totals.errors;
    }
  }

  const critical = new Set<Node>();
  let at = roots.reduce<Node | undefined>((last, n) => (!last || n.end > last.end ? n : last), undefined);
  while (at && !critical.has(at)) {
    critical.add(at);
    at = at.children.reduce<Node | undefined>((last, n) => (!last || n.end > last.end ? n : last), undefined);
  }

  const totalsOf = (t: Node['totals']): Totals => ({
    spans: t.spans,
    model_calls: t.model_calls,
    input_tokens: t.input,
    output_tokens: t.output,
    cost_usd: unitsToDecimal(t.cost),
    errors: t.errors,
  });
  const all = roots.reduce(
    (sum, r) => ({
      spans: sum.spans + r.totals.spans,
      model_calls: sum.model_calls + r.totals.model_calls,
      input: sum.input + r.totals.input,
      output: sum.output + r.totals.output,
      cost: sum.cost + r.totals.cost,
      errors: sum.errors + r.totals.errors,
    }),
    { spans: 0, model_calls: 0, input: 0, output: 0, cost: 0n, errors: 0 },
  );
  return {
    spans: order.map(({ node, depth }) => ({
      ...node.row,
      created_at: node.row.created_at.toISOString(),
      depth,
      children: node.children.length,
      subtree: totalsOf(node.totals),
      on_critical_path: critical.has(node),
    })),
    critical_path: order.filter(({ node }) => critical.has(node)).map(({ node }) => node.key),
    totals: totalsOf(all),
  };
}
