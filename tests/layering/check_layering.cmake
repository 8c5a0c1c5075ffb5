# Runs the core layering check (cmake/CoreLayering.cmake) on the tree -DCORE_DIR=<dir>, so
# CTest can watch it refuse forbidden includes (tests/layering/bad_core) the way configure
# would refuse them in core/.
cmake_minimum_required(VERSION 3.25)
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../cmake")
include(CoreLayering)
vitrine_check_core_layering("${CORE_DIR}")
message(STATUS "layering of ${CORE_DIR}: ok")
