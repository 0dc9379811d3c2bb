// escape_invalid_utf8 and the InputError that applies it: every message and
// name shown to a user is valid UTF-8, bytes that are not shown as \xNN.

#include <catch2/catch.hpp>

#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/utf8.hpp"

using gradcheck::escape_invalid_utf8;
using gradcheck::valid_utf8;

TEST_CASE("escape_invalid_utf8 keeps valid UTF-8, multibyte included", "[utf8]") {
  CHECK(escape_invalid_utf8("") == "");
  CHECK(escape_invalid_utf8("fc1.weight") == "fc1.weight");
  const std::string multi = "poids \xc3\xa9t\xc3\xa9 \xe6\x9d\x83\xe9\x87\x8d \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf";
  CHECK(escape_invalid_utf8(multi) == multi);
  CHECK(escape_invalid_utf8("\xc2\xa0") == "\xc2\xa0");  // U+00A0, the first code point past the C1 controls
}

TEST_CASE("escape_invalid_utf8 writes each byte outside a valid sequence as an x-escape", "[utf8]") {
  CHECK(escape_invalid_utf8("w\xff") == "w\\xff");
  CHECK(escape_invalid_utf8("\xfe\xff") == "\\xfe\\xff");
  CHECK(escape_invalid_utf8("\x80x") == "\\x80x");                     // a lone continuation byte
  CHECK(escape_invalid_utf8("\xc0\xaf") == "\\xc0\\xaf");              // overlong '/'
  CHECK(escape_invalid_utf8("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");     // overlong, three bytes
  CHECK(escape_invalid_utf8("\xf0\x80\x80\xaf") == "\\xf0\\x80\\x80\\xaf");
  CHECK(escape_invalid_utf8("\xed\xa0\x80") == "\\xed\\xa0\\x80");     // a surrogate (U+D800)
  CHECK(escape_invalid_utf8("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  CHECK(escape_invalid_utf8("ab\xe6\x9d") == "ab\\xe6\\x9d");          // truncated at the end
  // A truncated sequence followed by a valid one: only the bad bytes are escaped.
  CHECK(escape_invalid_utf8("\xe6\x9d\xc3\xa9") == "\\xe6\\x9d\xc3\xa9");
  CHECK(escape_invalid_utf8("\xc3" "A") == "\\xc3" "A");
}

TEST_CASE("escape_invalid_utf8 escapes control characters in one-line text", "[utf8]") {
  CHECK(escape_invalid_utf8("a\nb") == "a\\x0ab");
  CHECK(escape_invalid_utf8("a\r\tb\x1b[31m") == "a\\x0d\\x09b\\x1b[31m");
  CHECK(escape_invalid_utf8(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(escape_invalid_utf8("\x7f") == "\\x7f");
  CHECK(escape_invalid_utf8("\xc2\x85") == "\\xc2\\x85");  // C1 control NEL
  // Without `printable` (multi-line reports, JSON), controls stay.
  CHECK(escape_invalid_utf8("a\nb\xff", /*printable=*/false) == "a\nb\\xff");
  CHECK(escape_invalid_utf8("\x1b[1m", false) == "\x1b[1m");
}

TEST_CASE("escape_invalid_utf8's result is always valid, and escaping twice changes nothing", "[utf8]") {
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all += static_cast<char>(b);
    all += "\xe2\x82\xac";  // € between the bytes
  }
  for (bool printable : {true, false}) {
    const std::string once = escape_invalid_utf8(all, printable);
    CHECK(valid_utf8(once, printable));
    CHECK(escape_invalid_utf8(once, printable) == once);
  }
}

TEST_CASE("InputError escapes the file and the reason, whoever threw it", "[utf8][errors]") {
  const gradcheck::InputError e("dir/w\xff.safetensors", "tensor 'a\nb\xfe': bad");
  CHECK(std::string(e.what()) == "dir/w\\xff.safetensors: tensor 'a\\x0ab\\xfe': bad");
  CHECK(e.file() == "dir/w\\xff.safetensors");
  CHECK(e.reason() == "tensor 'a\\x0ab\\xfe': bad");
  CHECK(valid_utf8(e.what(), /*printable=*/true));
  const gradcheck::InputError plain("", "--filter \"\xff\" is bad");
  CHECK(std::string(plain.what()) == "--filter \"\\xff\" is bad");
}
