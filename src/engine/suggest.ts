// "Did you mean": the closest known name to a misspelt one, when it is close enough to be a
// typo rather than a different word. fastest-levenshtein computes the edit distance.
import { distance } from 'fastest-levenshtein';

/** The candidate nearest to `word`, if at most a third of its length (and at least 2) away. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { name: string; cost: number } | undefined;
  for (const name of candidates) {
    const cost = distance(word, name);
    if (cost <= limit && (best === undefined || cost < best.cost)) best = { name, cost };
  }
  return best?.name;
}

/** " (did you mean X?)" or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? '' : ` (did you mean ${match}?)`;
}
