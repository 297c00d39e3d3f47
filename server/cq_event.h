// CqEvent: what a completion-queue tag points at.
//
// Every tag handed to gRPC's asynchronous API is a CqEvent*, so a worker
// thread only needs `static_cast<CqEvent*>(tag)->OnComplete(ok)`.
#ifndef FEED_INGEST_SERVER_CQ_EVENT_H_
#define FEED_INGEST_SERVER_CQ_EVENT_H_

namespace feed_ingest {

class CqEvent {
 public:
  // Runs on the worker thread of the queue the operation was started on.
  virtual void OnComplete(bool ok) = 0;

 protected:
  ~CqEvent() = default;
};

// A CqEvent that calls a member function of its owner, so one object can
// have several operations in flight, each with its own tag.
template <typename Owner>
class MemberEvent final : public CqEvent {
 public:
  using Handler = void (Owner::*)(bool ok);
  MemberEvent(Owner* owner, Handler handler) : owner_(owner), handler_(handler) {}
  void OnComplete(bool ok) override { (owner_->*handler_)(ok); }

 private:
  Owner* const owner_;
  const Handler handler_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_CQ_EVENT_H_
