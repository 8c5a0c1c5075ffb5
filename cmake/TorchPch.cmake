# LibTorch's headers, precompiled once per build and shared by the sources that use them.
#
# Parsing <torch/torch.h> takes about 13 s of each translation unit that reaches it. Loading the
# precompiled header is not free either: it is 780 MB with -g, and a source that does not use
# torch compiles in 0.9 CPU-s without it and 6.7 with it (core/common/files.cpp). So the sources
# that reach LibTorch get the PCH, and the others (most of ui/, half of core/) get none, which
# also keeps torch out of sight where the code does not ask for it.
#
#   vitrine_torch_pch(<target> [QT])
#
# Of <target>'s .cpp sources, those that include a <torch/...>, <ATen/...> or <c10/...> header,
# themselves or through one of Vitrine's headers included with "...", get the shared PCH
# (REUSE_FROM); the rest get SKIP_PRECOMPILE_HEADERS. QT: the target links Qt, whose usage
# requirements compile with -fPIC, and GCC refuses a PCH made with other -fpic/-fpie settings
# (-Winvalid-pch says so, an error with -Werror): such targets share a second PCH, made with Qt's
# flags.
#
# The PCH is made by a target of its own (vitrine_torch_pch, vitrine_torch_pch_qt) that has only
# LibTorch's flags (and Qt's), not any one library's private definitions, so a consumer's own
# -D and -I options cannot invalidate it; the preset's flags (sanitizers, -O, -g) are the same
# for all. Which sources reach LibTorch is read at configure time: a source that starts to include
# torch after that compiles correctly, only without the PCH, until the next configure.
#
# ccache: the launcher (CMakeLists.txt) sets the sloppiness ccache needs to cache compilations that
# use a PCH and the PCH itself; CMake includes it with -include and an absolute path, which is
# what ccache needs with GCC (no -fpch-preprocess).

# Whether FILE includes LibTorch, directly or through Vitrine's own headers. Memoised for the
# whole configure run in global properties.
function(_vitrine_reaches_torch file out)
  set(key "VITRINE_REACHES_TORCH:${file}")
  get_property(known GLOBAL PROPERTY "${key}" SET)
  if(known)
    get_property(result GLOBAL PROPERTY "${key}")
    set(${out} ${result} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "${key}" FALSE) # an include cycle ends here
  set(result FALSE)
  get_filename_component(dir "${file}" DIRECTORY)
  file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  foreach(line IN LISTS includes)
    if(line MATCHES "include[ \t]*<(torch|ATen|c10)/")
      set(result TRUE)
    elseif(line MATCHES "include[ \t]*\"([^\"]+)\"")
      set(name "${CMAKE_MATCH_1}")
      # As the compiler looks for it: beside the includer, then from the project's root.
      foreach(base IN ITEMS "${dir}" "${PROJECT_SOURCE_DIR}")
        if(EXISTS "${base}/${name}" AND NOT IS_DIRECTORY "${base}/${name}")
          get_filename_component(header "${base}/${name}" ABSOLUTE)
          _vitrine_reaches_torch("${header}" result)
          break()
        endif()
      endforeach()
    endif()
    if(result)
      break()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "${key}" ${result})
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# The target that makes one flavour of the PCH: one empty source, LibTorch's (and Qt's) usage
# requirements, <torch/torch.h> precompiled.
function(_vitrine_torch_pch_donor name)
  if(TARGET ${name})
    return()
  endif()
  set(stub "${PROJECT_BINARY_DIR}/torch_pch/${name}.cpp")
  file(CONFIGURE OUTPUT "${stub}" CONTENT
       "// Nothing to compile: ${name} exists to precompile LibTorch's headers (cmake/TorchPch.cmake).\n")
  add_library(${name} OBJECT "${stub}")
  set_target_properties(${name} PROPERTIES AUTOMOC OFF AUTOUIC OFF AUTORCC OFF)
  target_link_libraries(${name} PRIVATE ${TORCH_LIBRARIES} ${ARGN})
  # The superset the sources use (some include narrower ATen headers, which it contains).
  target_precompile_headers(${name} PRIVATE <torch/torch.h>)
endfunction()

function(vitrine_torch_pch target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "QT" "" "")
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  # Generated sources get none: AUTOMOC's (its path is fixed; the ui headers it includes do not
  # include torch) and those in SOURCES marked GENERATED (qt_add_resources' qrc_*.cpp).
  get_target_property(binary_dir ${target} BINARY_DIR)
  get_target_property(automoc ${target} AUTOMOC)
  get_target_property(autogen_dir ${target} AUTOGEN_BUILD_DIR)
  if(NOT autogen_dir)
    set(autogen_dir "${binary_dir}/${target}_autogen")
  endif()
  if(automoc)
    set_source_files_properties("${autogen_dir}/mocs_compilation.cpp" TARGET_DIRECTORY ${target}
                                PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
  set(any FALSE)
  foreach(source IN LISTS sources)
    if(NOT source MATCHES "\\.(cpp|cc|cxx)$" OR source MATCHES "^\\$<")
      continue()
    endif()
    get_filename_component(path "${source}" ABSOLUTE BASE_DIR "${source_dir}")
    get_source_file_property(generated "${path}" TARGET_DIRECTORY ${target} GENERATED)
    if(generated)
      set(uses_torch FALSE)
    else()
      _vitrine_reaches_torch("${path}" uses_torch)
    endif()
    if(uses_torch)
      set(any TRUE)
    else()
      set_source_files_properties("${path}" TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
  if(NOT any)
    return()
  endif()
  if(arg_QT)
    _vitrine_torch_pch_donor(vitrine_torch_pch_qt Qt6::Core)
    target_precompile_headers(${target} REUSE_FROM vitrine_torch_pch_qt)
  else()
    _vitrine_torch_pch_donor(vitrine_torch_pch)
    target_precompile_headers(${target} REUSE_FROM vitrine_torch_pch)
  endif()
endfunction()
