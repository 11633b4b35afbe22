# Prints each TAP `not ok` line of a log with its YAML block (where the test failed, the message,
# found and wanted, or the diff), without the stack, the source excerpt or the command line, and
# at most 12 lines of each block. `.ci/run` prints this last before its count when anything failed.
function indentOf(line) {
  match(line, /^[[:space:]]*/)
  return RLENGTH
}
/^[[:space:]]*not ok / { print; indent = indentOf($0); left = 12; skip = -1; next }
left > 0 {
  here = indentOf($0)
  if (here <= indent) { left = 0; next }
  if (skip >= 0 && here > skip) next
  skip = -1
  if ($0 ~ /^[[:space:]]*(stack|source|args|env):( |$)/) { skip = here; next }
  if ($0 ~ /^[[:space:]]*(compare|columnNumber|typeName|isToplevel|command|cwd|stdio|externalID): /) next
  print
  left--
  if ($0 ~ /^[[:space:]]*\.\.\.$/) left = 0
}
