#pragma once
// Whether this test binary runs under AddressSanitizer. Its quarantine holds freed memory and
// its shadow memory grows with use, and it replaces malloc (mallinfo2 reads 0), so the resource
// tests still run their code there but do not judge the figures.

#if defined(__SANITIZE_ADDRESS__)
#define VITRINE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VITRINE_TEST_ASAN 1
#endif
#endif

namespace vitrine::testutil {
#ifdef VITRINE_TEST_ASAN
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
} // namespace vitrine::testutil
