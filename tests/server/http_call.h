// One HTTP/1.1 request over a fresh 127.0.0.1 connection with raw sockets
// (so that the test sends exactly the bytes it means, bad ones included):
// "Connection: close", the reply read to the end. For the REST tests.
#ifndef RNNSERVE_TESTS_SERVER_HTTP_CALL_H_
#define RNNSERVE_TESTS_SERVER_HTTP_CALL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::server {

struct HttpAnswer {
  int status = 0;  // 0: no answer (the connection failed or closed early)
  std::string body;
};

// `extra_headers`: whole lines, each ending in "\r\n".
inline HttpAnswer HttpCall(int port, const std::string& method, const std::string& path,
                           const std::string& body = "", const std::string& extra_headers = "") {
  HttpAnswer answer;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return answer;
  timeval timeout{.tv_sec = 30, .tv_usec = 0};  // a hung server fails the test, not hangs it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return answer;
  }
  const std::string request = absl::StrCat(
      method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", extra_headers,
      "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may refuse a huge body before reading it
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t head_end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos ||
      !absl::SimpleAtoi(reply.substr(9, 3), &answer.status)) {
    return answer;
  }
  answer.body = reply.substr(head_end + 4);
  return answer;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_HTTP_CALL_H_
