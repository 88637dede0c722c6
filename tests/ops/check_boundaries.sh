#!/usr/bin/env bash
# Boundaries of ../shared/design.md that the compiler would not notice being crossed: the store
# knows no Kafka (it names a record's origin by common's TopicPartition, and neither includes a
# Kafka header nor links librdkafka).
set -uo pipefail
root=$1
fail=0
if grep -rnE '#include [<"](careledger/kafka\.h|librdkafka/)' "$root/store"; then
  echo "store/ includes a Kafka header (above)"
  fail=1
fi
if grep -nE 'careledger_kafka|RDKAFKA' "$root/store/CMakeLists.txt"; then
  echo "store/CMakeLists.txt links a Kafka client (above)"
  fail=1
fi
[ $fail = 0 ] && echo "store: no Kafka header, no Kafka library"
exit $fail
