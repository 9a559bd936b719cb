# The known history the Prometheus-compatible servers load (tests/backend_prometheus.rs relies on
# it): every 15 s from ANCHOR-7200 to ANCHOR, with the timestamps in `unit` (s for OpenMetrics,
# ms for the Prometheus text format).
#   llm_requests_total{provider="openai",code="200"}  19/s, then 14/s from ANCHOR-1800
#   llm_requests_total{provider="openai",code="429"}   1/s, then  6/s from ANCHOR-1800
#     so the 429 share is 5 %, then 30 %, of 20 requests/s
#   llm_queue_depth{queue="interactive"}  the minute of the history: floor((t - (ANCHOR-7200)) / 60)
#   llm_queue_depth{queue="batch"}        7
# Usage: awk -v anchor=UNIX_SECONDS -v unit=s|ms -f llm_history.awk
BEGIN {
  start = anchor - 7200; switch_at = anchor - 1800; step = 15
  scale = unit == "ms" ? 1000 : 1
  split("200 429", codes, " ")
  rate_before["200"] = 19; rate_after["200"] = 14
  rate_before["429"] = 1;  rate_after["429"] = 6
  print "# TYPE llm_requests counter"
  for (c = 1; c <= 2; c++) {
    code = codes[c]; total = 1000
    for (t = start; t <= anchor; t += step) {
      printf "llm_requests_total{provider=\"openai\",code=\"%s\"} %d %.0f\n", code, total, t * scale
      total += step * (t < switch_at ? rate_before[code] : rate_after[code])
    }
  }
  print "# TYPE llm_queue_depth gauge"
  for (t = start; t <= anchor; t += step)
    printf "llm_queue_depth{queue=\"interactive\"} %d %.0f\n", int((t - start) / 60), t * scale
  for (t = start; t <= anchor; t += step)
    printf "llm_queue_depth{queue=\"batch\"} 7 %.0f\n", t * scale
  print "# EOF"
}
