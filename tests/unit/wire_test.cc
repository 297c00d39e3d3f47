// The server's reading of requests (server/wire/ingest_wire.proto) against
// the contract (proto/feed/interactions/v1/interactions.proto): the same
// fields, numbers and wire types, `bytes` where the contract has `string`,
// so every message a caller can send parses the same way.
#include "feed/interactions/v1/interactions.pb.h"
#include "gtest/gtest.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

void ExpectWireCompatible(const Descriptor* contract, const Descriptor* wire) {
  ASSERT_EQ(contract->field_count(), wire->field_count()) << contract->full_name();
  for (int i = 0; i < contract->field_count(); ++i) {
    const FieldDescriptor* c = contract->field(i);
    const FieldDescriptor* w = wire->FindFieldByNumber(c->number());
    ASSERT_NE(w, nullptr) << c->full_name();
    EXPECT_EQ(w->name(), c->name()) << c->full_name();
    EXPECT_EQ(w->label(), c->label()) << c->full_name();
    if (c->type() == FieldDescriptor::TYPE_STRING) {
      EXPECT_EQ(w->type(), FieldDescriptor::TYPE_BYTES) << c->full_name();
    } else {
      EXPECT_EQ(w->type(), c->type()) << c->full_name();
    }
    if (c->type() == FieldDescriptor::TYPE_MESSAGE &&
        c->message_type()->file() == contract->file()) {
      ExpectWireCompatible(c->message_type(), w->message_type());
    } else if (c->type() == FieldDescriptor::TYPE_MESSAGE) {
      EXPECT_EQ(w->message_type(), c->message_type()) << c->full_name();
    }
  }
}

TEST(WireTest, TheServersRequestTypesMirrorTheContract) {
  ExpectWireCompatible(::feed::interactions::v1::IngestRequest::descriptor(),
                       wire::IngestRequest::descriptor());
}

TEST(WireTest, InvalidUtf8ThatTheContractTypeRefusesParsesAsBytes) {
  wire::IngestRequest sent;
  sent.set_sequence(7);
  auto* bad = sent.add_interactions();
  bad->set_user_id(std::string("\xff\xfe\xfd\xfc", 4));
  bad->set_video_id("v");
  const std::string bytes = sent.SerializeAsString();

  ::feed::interactions::v1::IngestRequest contract;
  EXPECT_FALSE(contract.ParseFromString(bytes)) << "protobuf checks UTF-8 of string fields";
  wire::IngestRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.sequence(), 7u);
  EXPECT_EQ(parsed.interactions(0).user_id(), std::string("\xff\xfe\xfd\xfc", 4));
}

}  // namespace
}  // namespace feed_ingest
