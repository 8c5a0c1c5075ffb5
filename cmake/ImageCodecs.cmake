# The image decoders Vitrine links besides OpenCV's (core/image/codecs.cpp): libwebp with
# its demuxer (animated WebP), giflib, libheif (HEIC/HEIF, AVIF) and libjxl, all from
# Debian packages (scripts/install-deps.sh). libjpeg-turbo (the one OpenCV itself uses) is
# also linked directly: the model path decodes JPEG windows with it (core/image/jpeg_window.h).
# Defines the interface target vitrine::image_codecs.
find_package(PkgConfig REQUIRED)
pkg_check_modules(VITRINE_WEBP REQUIRED IMPORTED_TARGET libwebp libwebpdemux)
pkg_check_modules(VITRINE_HEIF REQUIRED IMPORTED_TARGET libheif)
pkg_check_modules(VITRINE_JXL REQUIRED IMPORTED_TARGET libjxl)
find_package(GIF 5 REQUIRED)
find_package(JPEG REQUIRED)

if(NOT TARGET vitrine_image_codecs)
  add_library(vitrine_image_codecs INTERFACE)
  add_library(vitrine::image_codecs ALIAS vitrine_image_codecs)
  target_link_libraries(vitrine_image_codecs INTERFACE
    PkgConfig::VITRINE_WEBP PkgConfig::VITRINE_HEIF PkgConfig::VITRINE_JXL GIF::GIF JPEG::JPEG)
endif()
