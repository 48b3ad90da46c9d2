// Certificates made by openssl for a test: a CA, a server certificate for
// localhost / 127.0.0.1 it signed, a client certificate it signed, and a
// client certificate from another CA (files ca.pem, server.pem/.key,
// client.pem/.key, stranger.pem/.key, other_ca.pem in a fresh folder,
// removed with the object). Shared by the gRPC and HTTPS tests.
#ifndef RNNSERVE_TESTS_COMMON_TEST_CERTIFICATES_H_
#define RNNSERVE_TESTS_COMMON_TEST_CERTIFICATES_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "util/file.h"

namespace rnnserve::testing {

class Certificates {
 public:
  Certificates() {
    static std::atomic<int> next{0};
    dir_ = absl::StrCat(::testing::TempDir(), "certs_", getpid(), "_", next++);
    std::filesystem::create_directories(dir_);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 1 -subj /CN=rnnserve-test-ca");
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other_ca.key -out other_ca.pem -days 1 -subj /CN=someone-else");
    Sign("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    Sign("client", "ca", "extendedKeyUsage=clientAuth");
    Sign("stranger", "other_ca", "extendedKeyUsage=clientAuth");
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }
  Certificates(const Certificates&) = delete;
  Certificates& operator=(const Certificates&) = delete;

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string Pem(const std::string& name) const { return *util::ReadFileToString(Path(name)); }

 private:
  void Run(const std::string& command) const {
    const std::string line = absl::StrCat("cd ", dir_, " && ", command, " >/dev/null 2>&1");
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  void Sign(const std::string& name, const std::string& ca, const std::string& extension) const {
    std::ofstream(Path(name + ".ext")) << extension << "\n";
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
                     name, ".key -out ", name, ".csr -subj /CN=", name));
    Run(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                     ".key -CAcreateserial -out ", name, ".pem -days 1 -extfile ", name, ".ext"));
  }

  std::string dir_;
};

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_TEST_CERTIFICATES_H_
