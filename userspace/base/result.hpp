// Errors are values: a Result<T> holds either a T or an Error (code + one human sentence that
// names the input and the reason, ready for one line on stderr).
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "xesp/error.hpp"

namespace xesp {

struct Error {
  std::error_code code;
  std::string message;  // e.g. "interface 'eth9': no such interface"

  static Error sys(int errnum, std::string context) {
    return {std::error_code(errnum, std::system_category()),
            std::move(context) + ": " + std::system_category().message(errnum)};
  }
  static Error nm(nmerr code, std::string message) {
    return {make_error_code(code), std::move(message)};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool ok() const noexcept { return v_.index() == 0; }

  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  explicit operator bool() const noexcept { return !failed_; }
  bool ok() const noexcept { return !failed_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace xesp
