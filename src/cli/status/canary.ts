// The templates in canary, for `podpattern status`: per template whose current spec is not
// promoted, which namespaces get it (its canary namespaces), and the promoted revision every
// other namespace gets, or why that revision cannot be served.
import type { Catalog } from '../../model/template.js';
import { choose, inCanary } from '../../impact/staged.js';
import type { RevisionsView } from '../../impact/served-revisions.js';

/** Namespaces listed at most per template; the rest are counted. */
const MAX_LISTED = 10;

export function formatCanary(
  catalog: Catalog,
  revisions: RevisionsView,
  namespaces: Map<string, Readonly<Record<string, string>>>,
): string {
  const lines: string[] = [];
  for (const template of catalog.list()) {
    const staged = inCanary(template, revisions);
    if (staged === undefined) continue;
    const canary = [...namespaces]
      .filter(([name, labels]) => choose(staged, name, labels).serves === 'current')
      .map(([name]) => name)
      .sort();
    const where =
      canary.length === 0
        ? 'no namespace (its spec.rollout.canary.namespaceSelector selects none)'
        : `${canary.slice(0, MAX_LISTED).join(', ')}${canary.length > MAX_LISTED ? ` and ${canary.length - MAX_LISTED} more` : ''}`;
    const promoted = staged.promoted;
    const elsewhere =
      promoted?.template !== undefined
        ? `every other namespace gets the promoted revision ${promoted.revision} (${promoted.hash})`
        : `no other namespace gets it, and its promoted revision cannot be served (${staged.problem ?? 'not found'}): pods elsewhere asking for it are admitted without it where injection is enabled, refused where it is required`;
    lines.push(
      `canary: ${template.name} ${template.hash} is served in ${where}; ${elsewhere}; podpattern rollout promote ${template.name} serves ${template.hash} everywhere`,
    );
  }
  return lines.map((line) => `${line}\n`).join('');
}
