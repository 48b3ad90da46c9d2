#include "client/common_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "the rnnserve server, HOST:PORT");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "the longest wait for any one answer: a unary call, or each step's response on a "
          "stream (with bench: also how long in-flight steps may take after the run); "
          "0 waits forever");
ABSL_FLAG(bool, tls, false,
          "connect over TLS, verifying the server against the system's CA certificates "
          "(implied by the other --tls_ flags)");
ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA the server's certificate must chain to");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate chain for mutual TLS (the server's --tls_client_ca); with "
          "--tls_key");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "the name the server's certificate must carry, when it is not the --server host");
ABSL_FLAG(std::string, token_file, "",
          "file holding the bearer token the server's --token_file names; sent as "
          "\"authorization: Bearer <token>\" on every call");
ABSL_FLAG(std::string, model, "", "the model's name");
ABSL_FLAG(int64_t, model_version, 0, "the model version; 0 is the newest");
ABSL_FLAG(std::string, session, "",
          "the session id; when empty a fresh random id is used and the session is ended "
          "at the end");
ABSL_FLAG(bool, json, false, "print JSON instead of a table");
ABSL_FLAG(int, chunk, 1, "steps per request (T); with --chunk 1 each step is its own request");
ABSL_FLAG(uint64_t, seed, 0,
          "random seed (generate: the same seed, prompt and model give the same text; bench: "
          "of the random inputs)");
ABSL_FLAG(int, max_reconnects, 10,
          "after a broken stream or a lost session (UNAVAILABLE, ABORTED, NOT_FOUND): how many "
          "recoveries in a row (reopen after 0.1 s, doubling up to 2 s, and resend) before "
          "giving up");
ABSL_FLAG(int64_t, keep_steps, 10000,
          "inputs kept per session to send again after a server crash: every step while the "
          "session is shorter (so a lost session can be replayed from its start), then the steps "
          "after its last checkpoint (durable_steps), at most this many answered ones");
