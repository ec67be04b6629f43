// A small expected-like result type: untrusted input never throws, it yields
// an error value that says what was wrong (docs/design.md, "Shape").
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace scep {

struct error {
    std::string message;
};

inline error make_error(std::string message) { return error{std::move(message)}; }

template <class T>
class [[nodiscard]] result {
public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    result(error e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { check(); return std::get<0>(v_); }
    const T& value() const& { check(); return std::get<0>(v_); }
    T&& value() && { check(); return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const error& err() const { return std::get<1>(v_); }
    const std::string& message() const { return err().message; }

private:
    void check() const {
        if (!has_value()) throw std::logic_error("result has no value: " + err().message);
    }
    std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(error e) : e_(std::move(e)), ok_(false) {}
    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const error& err() const { return e_; }
    const std::string& message() const { return e_.message; }

private:
    error e_;
    bool ok_ = true;
};

}  // namespace scep
