// The shape of a PatternPolicy once validated against the catalog (src/catalog/policy.ts): what
// one namespace requires, forbids and narrows. Its schema is src/catalog/policy-schema.ts.
import type { RE2JS } from 're2js';
import { DOMAIN } from './domain.js';
import type { ParameterValue } from './template.js';

export const POLICY_KIND = 'PatternPolicy';
export const POLICY_PLURAL = 'patternpolicies';
/** The only PatternPolicy of a namespace that counts; others are refused at admission. */
export const POLICY_NAME = 'default';
export const POLICY_GROUP = DOMAIN;

/** Bounds a policy puts on one parameter, tighter than (or equal to) the template's own. */
export interface NarrowBounds {
  minimum?: number;
  maximum?: number;
  enum?: ParameterValue[];
  /** An anchored pattern a value must match as well as the template's. */
  pattern?: string;
}

export interface RequiredTemplate {
  template: string;
  /** Parameter values, as annotation strings: defaults a pod's own annotations may change within the bounds. */
  parameters: Record<string, string>;
}

export interface Policy {
  namespace: string;
  require: readonly RequiredTemplate[];
  forbid: readonly string[];
  /** By template, then parameter. */
  narrow: Readonly<Record<string, Readonly<Record<string, NarrowBounds>>>>;
  /** Compiled narrowing patterns, keyed `template/parameter`. */
  patterns: ReadonlyMap<string, RE2JS>;
}

/**
 * What the webhook knows of a namespace's policy: none, the policy, or that the namespace has one
 * podpattern cannot read now (not synced, or refused by RBAC): pods there are then refused.
 */
export type PolicyView = Policy | 'unreadable' | undefined;
