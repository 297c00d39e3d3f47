#include "stages/encode.h"

#include "record_json.h"

namespace feed_ingest {

StageOutcome EncodeStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  batch.values.reserve(batch.records.size() * 160);  // A typical record, rounded up.
  for (IngestBatch::Record& record : batch.records) {
    const auto& item = batch.item(record);
    record.value_begin = static_cast<uint32_t>(batch.values.size());
    AppendRecordJson(item, &batch.values);
    record.value_end = static_cast<uint32_t>(batch.values.size());
    record.event_s = static_cast<double>(item.timestamp().seconds()) +
                     static_cast<double>(item.timestamp().nanos()) * 1e-9;
  }
  return StageOutcome::Next();
}

}  // namespace feed_ingest
