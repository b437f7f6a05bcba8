/**
 * @module core/result-plan
 * What a statement's result columns derive from, as far as column rules care. Built by the policy
 * layer from the statement's lineage; used by protocol code to mask values. Lives in core because
 * both sides use it and neither may import the other.
 */

/** How one result field is masked because of a column rule (on top of the content detectors). */
export type FieldRule =
  /** The value is the sensitive column itself: that column's masker applies. */
  | {
      readonly kind: 'direct';
      readonly masker: 'redact' | 'partial' | 'hash' | 'email' | 'null';
      readonly column: string;
    }
  /** The value is computed from a sensitive column (a cast, a function, an aggregate…): redacted whole. */
  | { readonly kind: 'derived'; readonly column: string };

/** A result field as RowDescription describes it. */
export interface ResultField {
  readonly name: string;
  /** The table's OID when the server says the field is a plain column of a table, else 0. */
  readonly tableOid: number;
}

export interface ResultPlan {
  /** The rule for each field of a result with these fields; undefined where no column rule applies. */
  fieldRules(fields: readonly ResultField[]): readonly (FieldRule | undefined)[];
  /**
   * The statement reads or writes a table with sensitive columns, so its server errors may quote
   * their values (`invalid input syntax for type integer: "987-65-4321"`, `Failing row contains
   * (…)`): their text is withheld, whatever the detectors recognise.
   */
  readonly withholdErrors: boolean;
}
