import { describe, expect, it } from 'vitest';
import { ResultShapeTracker } from '../../src/protocols/postgres/result-shapes.ts';

const TEXT = 25;
const INT8 = 20;
const fields = (...types: number[]) =>
  types.map((typeOid) => ({ typeOid, format: 0, name: 'c', tableOid: 0 }));

describe('ResultShapeTracker', () => {
  it('simple protocol: each result takes its RowDescription, which ends with the result', () => {
    const t = new ResultShapeTracker();
    t.query();
    t.rowDescription([
      { typeOid: TEXT, format: 0, name: 'a', tableOid: 0 },
      { typeOid: INT8, format: 1, name: 'b', tableOid: 0 },
    ]);
    expect(t.rowShape()).toMatchObject([
      { typeOid: TEXT, format: 0 },
      { typeOid: INT8, format: 1 },
    ]);
    t.resultEnded();
    expect(t.rowShape()).toBeUndefined();
    t.rowDescription(fields(INT8));
    expect(t.rowShape()).toMatchObject([{ typeOid: INT8, format: 0 }]);
    t.readyForQuery();
    expect(t.rowShape()).toBeUndefined();
  });

  it('extended protocol: types from Describe(S) long before, formats from this Bind', () => {
    const t = new ResultShapeTracker();
    t.parse('s');
    t.describe('S', 's');
    t.sync();
    t.rowDescription(fields(TEXT, INT8));
    t.readyForQuery();
    t.bind('', 's', [1]);
    t.execute('');
    t.sync();
    expect(t.rowShape()).toEqual([
      { typeOid: TEXT, format: 1 },
      { typeOid: INT8, format: 1 },
    ]);
    t.resultEnded();
    t.readyForQuery();
    // Re-parsing the name forgets the old types.
    t.close('S', 's');
    t.parse('s');
    t.bind('', 's', [0, 1]);
    t.execute('');
    expect(t.rowShape()).toBeUndefined();
    expect(t.rowFormats()).toEqual({ formats: [0, 1] });
  });

  it('Describe(P) before Execute gives the portal its types; pipelined executes keep their own portals', () => {
    const t = new ResultShapeTracker();
    t.parse('');
    t.bind('a', '', []);
    t.describe('P', 'a');
    t.execute('a');
    t.bind('b', '', [1]);
    t.describe('P', 'b');
    t.execute('b');
    t.sync();
    t.rowDescription(fields(TEXT));
    expect(t.rowShape()).toEqual([{ typeOid: TEXT, format: 0 }]);
    t.resultEnded();
    // b's RowDescription arrives after a's rows.
    t.rowDescription(fields(INT8));
    expect(t.rowShape()).toEqual([{ typeOid: INT8, format: 1 }]);
  });

  it('an error skips the rest of the batch up to Sync, as the server does', () => {
    const t = new ResultShapeTracker();
    t.bind('', '', []);
    t.describe('P', '');
    t.execute('');
    t.sync();
    t.query();
    t.error();
    t.readyForQuery();
    // The next RowDescription belongs to the Query, not to the skipped Describe.
    t.rowDescription(fields(TEXT));
    expect(t.rowShape()).toMatchObject([{ typeOid: TEXT, format: 0 }]);
  });

  it('NoData answers a Describe without rows', () => {
    const t = new ResultShapeTracker();
    t.describe('S', 'x');
    t.describe('P', '');
    t.noData();
    t.rowDescription(fields(TEXT));
    t.bind('', 'x', []);
    t.execute('');
    expect(t.rowShape()).toBeUndefined();
  });

  it("carries each statement's plan: per statement of a Query, and Parse → Bind → Execute", () => {
    const plan = (label: string) => ({
      fieldRules: () => [{ kind: 'derived' as const, column: label }],
      withholdErrors: false,
    });
    const t = new ResultShapeTracker();
    t.query([plan('first'), undefined, plan('third')]);
    t.rowDescription(fields(TEXT));
    expect(t.rowRules(1)).toEqual([{ kind: 'derived', column: 'first' }]);
    t.resultEnded();
    t.rowDescription(fields(TEXT));
    expect(t.rowRules(1)).toBeUndefined();
    t.resultEnded();
    t.rowDescription(fields(TEXT));
    expect(t.rowRules(1)).toEqual([{ kind: 'derived', column: 'third' }]);
    t.readyForQuery();
    t.parse('s', plan('prepared'));
    // A Parse of an existing name fails at the server: the first plan stays.
    t.parse('s', undefined);
    t.bind('p', 's', []);
    t.execute('p');
    expect(t.rowRules(1)).toEqual([{ kind: 'derived', column: 'prepared' }]);
  });
});
