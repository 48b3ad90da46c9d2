// An in-process RnnServer on 127.0.0.1:<free port> over a one-model
// repository (the 2-layer GRU fixture, served as "gru"), with stubs, for the
// whole-server tests (rnn_server_test.cc, session_tier_test.cc).
#ifndef RNNSERVE_TESTS_SERVER_TEST_SERVER_H_
#define RNNSERVE_TESTS_SERVER_TEST_SERVER_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {

// A server on 127.0.0.1:<free port> over a one-model repository, and stubs.
struct TestServer {
  explicit TestServer(SessionStore::Options sessions, const std::string& tag = "a",
                      int64_t max_message_bytes = 16 << 20, const std::string& handoff_target = "",
                      const SessionStoreOptions& session_store = {}) {
    ServerOptions options;
    options.session_store = session_store;
    options.listen = "127.0.0.1:0";
    options.max_message_bytes = max_message_bytes;
    options.handoff_target = handoff_target;
    options.models = models_root = ::rnnserve::model::testing::MakeTestRepository(
        "rnn_server_" + tag + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
        {{"gru_2layer", "gru/1"}});
    options.sessions = sessions;
    absl::StatusOr<std::unique_ptr<RnnServer>> started = RnnServer::Start(options);
    CHECK(started.ok()) << started.status();
    server = *std::move(started);
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                  grpc::InsecureChannelCredentials());
    inference = v1::InferenceService::NewStub(channel);
    sessions_stub = v1::SessionService::NewStub(channel);
  }

  // One step of `seq` at `t` for session `id`.
  grpc::Status Step(const std::string& id, const ::rnnserve::model::testing::ReferenceSequence& seq,
                    int64_t t, bool start, v1::StepResponse* response) {
    grpc::ClientContext context;
    return inference->Step(&context, StepRequest(id, seq, t, start), response);
  }

  static v1::StepRequest StepRequest(const std::string& id,
                                     const ::rnnserve::model::testing::ReferenceSequence& seq,
                                     int64_t t, bool start) {
    v1::StepRequest request;
    request.set_session_id(id);
    request.set_start(start);
    request.mutable_model()->set_name("gru");
    const int64_t width = seq.input.shape[1];
    request.mutable_floats()->mutable_values()->Assign(seq.input.floats.begin() + t * width,
                                                       seq.input.floats.begin() + (t + 1) * width);
    return request;
  }

  // DescribeSession's steps, or -1 when the session is not here.
  int64_t StepsOf(const std::string& id) {
    v1::SessionRef ref;
    ref.set_session_id(id);
    v1::SessionInfo info;
    grpc::ClientContext context;
    return sessions_stub->DescribeSession(&context, ref, &info).ok() ? info.steps() : -1;
  }

  std::string models_root;
  std::unique_ptr<RnnServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::InferenceService::Stub> inference;
  std::unique_ptr<v1::SessionService::Stub> sessions_stub;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_TEST_SERVER_H_
