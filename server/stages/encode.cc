#include "stages/encode.h"

#include "record_json.h"

namespace feed_ingest {

StageOutcome EncodeStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  batch.values.reserve(batch.records.size() * 160);  // A typical record, rounded up.
  for (IngestBatch::Record& record : batch.records) {
    record.value_begin = static_cast<uint32_t>(batch.values.size());
    AppendRecordJson(batch.item(record), &batch.values);
    record.value_end = static_cast<uint32_t>(batch.values.size());
  }
  return StageOutcome::Next();
}

}  // namespace feed_ingest
