# bench/load/jfr-breakdown.awk — used by run-load.sh when JFR=1.
# reads `jfr print --events jdk.ExecutionSample --stack-depth 64`; classifies each sample by
# what the stack is doing (first rule that matches, in this order) and by its top frame's package
/^jdk.ExecutionSample/ {inst=0; top=""; stack=""; next}
/stackTrace = \[/ {inst=1; next}
inst && /^  \]/ {
  inst=0; n++
  if (stack ~ /org\.gaul\./) c="embedded S3 store (S3Proxy + its Jetty, same JVM)"
  else if (stack ~ /software\.amazon\./) c="S3 client (AWS SDK: signing, HTTP, retries)"
  else if (stack ~ /java\.util\.zip\.|GZIP|Deflater/) c="gzip of batches (workers)"
  else if (stack ~ /com\.fasterxml\.jackson/) c="JSON parse/slice in the handler (Jackson)"
  else if (stack ~ /io\.millrace\./) c="millrace pipeline/queue/handler (own code)"
  else if (stack ~ /io\.helidon\./) c="HTTP server (Helidon, outside the handler)"
  else c="other (JDK, JFR, class loading)"
  cat[c]++
  p=top; sub(/\(.*/,"",p); split(p, q, "."); pk=q[1] "." q[2] (q[3] ~ /^[a-z]/ ? "." q[3] : ""); pkg[pk]++
  next
}
inst { line=$0; sub(/^ +/,"",line); if (top=="") top=line; stack=stack "\n" line; next }
END {
  printf "by activity (inclusive stack, %d samples):\n", n
  for (c in cat) printf "  %5.1f%%  %s\n", 100*cat[c]/n, c | "sort -nr"
  close("sort -nr")
  printf "by top frame's package (self time):\n"
  for (k in pkg) printf "  %5.1f%%  %s\n", 100*pkg[k]/n, k | "sort -nr | head -10"
  close("sort -nr | head -10")
}
