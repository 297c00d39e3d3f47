// EncodeStage: each record's Kafka value, the consumers' JSON
// (record_json.h), written back to back into the batch.
//
//   EncodeStage stage;
//
// Thread-safe: no state.
#ifndef FEED_INGEST_SERVER_STAGES_ENCODE_H_
#define FEED_INGEST_SERVER_STAGES_ENCODE_H_

#include "stages/stage.h"

namespace feed_ingest {

class EncodeStage final : public Stage {
 public:
  // Stage
  absl::string_view name() const override { return "encode"; }
  StageOutcome Run(Admission& admission) override;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_ENCODE_H_
