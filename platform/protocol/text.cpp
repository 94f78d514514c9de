#include "platform/protocol/text.hpp"

#include "platform/protocol/redact.hpp"

namespace gamestore::protocol {

namespace {

template <typename Item>
std::string join_items(std::span<const Item> items, std::string_view separator) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out += separator;
        }
        out += items[i];
    }
    return out;
}

}  // namespace

std::string in_quotes(std::string_view text, std::size_t max_bytes) {
    return "'" + printable(text, max_bytes) + "'";
}

std::string join(std::span<const std::string> items, std::string_view separator) {
    return join_items(items, separator);
}

std::string join(std::span<const std::string_view> items, std::string_view separator) {
    return join_items(items, separator);
}

}  // namespace gamestore::protocol
