// What `podpattern check` says about a template in canary that a pod asks for: which revision the
// pod gets in its namespace, and why (impact/staged.ts decides, as in the webhook).
import { unavailableText, type StagedChoice } from '../../impact/staged.js';
import { fail, ok, type Finding } from './findings.js';

export function revisionFinding(label: string, namespace: string, choice: StagedChoice): Finding {
  const check = `revision ${label}`;
  const { template, current, promoted } = choice;
  const promote = `podpattern rollout promote ${template} serves ${current} everywhere`;
  switch (choice.serves) {
    case 'current':
      return ok(
        check,
        `${template} is in canary and ${namespace} is one of its canary namespaces (spec.rollout.canary.namespaceSelector): the pod gets its current spec ${current}${promoted === undefined ? '' : `; other namespaces get the promoted revision ${promoted.revision} (${promoted.hash})`}`,
      );
    case 'promoted':
      return ok(
        check,
        `${template} is in canary and ${namespace} is not one of its canary namespaces: the pod gets the promoted revision ${promoted!.revision} (${promoted!.hash}), not the current spec ${current}; ${promote}`,
      );
    case 'unavailable':
      return fail(
        check,
        `${unavailableText(choice)}; the webhook answers such a pod as its failure mode says (admitted without injection where enabled, refused where required)`,
        `podpattern templates history ${template} lists the revisions kept; ${promote}`,
      );
  }
}
