/**
 * @module gateway/row-estimate
 * The planner's estimate of the rows an UPDATE or DELETE will touch, for approvers. EXPLAIN
 * without ANALYZE plans but never runs the statement; it is sent through Parse (one statement
 * only), in a read-only transaction with a statement timeout, and only for statements that call
 * no function (see `rowsEstimable` in statement-gate.ts).
 */
import type { BoundParameter } from '../approvals/statement-view.ts';
import type { UpstreamTarget } from '../protocols/postgres/ports.ts';
import { queryUpstream } from './upstream-query.ts';

interface ExplainNode {
  readonly 'Node Type'?: string;
  readonly 'Plan Rows'?: number;
  readonly Plans?: readonly ExplainNode[];
}

/** Resolves to null when the estimate cannot be had (any error, a timeout, an odd plan). */
export async function estimateRows(
  target: UpstreamTarget,
  sql: string,
  parameters: readonly BoundParameter[],
  timeoutMs: number,
): Promise<number | null> {
  try {
    const [row] = await queryUpstream(
      target,
      [
        { type: 'Parse', name: '', query: `EXPLAIN (FORMAT JSON) ${sql}`, parameterTypes: [] },
        {
          type: 'Bind',
          portal: '',
          statement: '',
          parameterFormats: parameters.map((p) => p.format),
          parameters: parameters.map((p) => p.value),
          resultFormats: [],
        },
        { type: 'Execute', portal: '', maxRows: 0 },
        { type: 'Sync' },
      ],
      {
        timeoutMs,
        applicationName: 'sluice-estimate',
        settings: { default_transaction_read_only: 'on', statement_timeout: String(timeoutMs) },
      },
    );
    const [explained] = JSON.parse(row?.[0] ?? '[]') as { Plan?: ExplainNode }[];
    return modifiedRows(explained?.Plan);
  } catch {
    return null;
  }
}

/** A ModifyTable node reports 0 rows itself; the rows it changes are its input's. */
function modifiedRows(plan: ExplainNode | undefined): number | null {
  const node = plan?.['Node Type'] === 'ModifyTable' ? plan.Plans?.[0] : plan;
  const rows = node?.['Plan Rows'];
  return typeof rows === 'number' ? rows : null;
}
