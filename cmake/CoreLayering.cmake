# Layering inside core, checked at configure time from the #include lines (like the Qt rule in
# core/CMakeLists.txt, which checks linking). Each folder of core may include its own headers
# and those of the folders listed for it, nothing else; no file in core may include ui/, app/
# or a Qt header. The order, lowest first:
#   common -> image -> io -> data -> model -> train, analysis
# (image decodes with common's readFile only; io's exporters draw sprites with image; data
# scans with image and io; model runs data sets and reads formats from io; train and analysis
# drive models). vitrine-cli's commands are the application, not the engine: they live in
# app/vitrine-cli/ and may use all of core, like ui/.
# To change a rule, change the list here and say why in the commit.
set(VITRINE_CORE_MAY_INCLUDE_common "")
set(VITRINE_CORE_MAY_INCLUDE_image common)
set(VITRINE_CORE_MAY_INCLUDE_io common image)
set(VITRINE_CORE_MAY_INCLUDE_data common image io)
set(VITRINE_CORE_MAY_INCLUDE_model common image io data)
set(VITRINE_CORE_MAY_INCLUDE_train common image io data model)
set(VITRINE_CORE_MAY_INCLUDE_analysis common image io data model)

# Fails the configure step with one line per forbidden include (the file, the include, the rule).
function(vitrine_check_core_layering core_dir)
  file(GLOB_RECURSE _files RELATIVE "${core_dir}" "${core_dir}/*.h" "${core_dir}/*.cpp")
  set(_problems "")
  foreach(_file IN LISTS _files)
    if(NOT _file MATCHES "^([a-z_]+)/")
      continue() # core/CMakeLists.txt and the like
    endif()
    set(_folder "${CMAKE_MATCH_1}")
    if(NOT DEFINED VITRINE_CORE_MAY_INCLUDE_${_folder})
      list(APPEND _problems "core/${_file}: folder core/${_folder} has no layering rule; add VITRINE_CORE_MAY_INCLUDE_${_folder} to cmake/CoreLayering.cmake")
      continue()
    endif()
    set(_allowed ${VITRINE_CORE_MAY_INCLUDE_${_folder}} ${_folder})
    file(STRINGS "${core_dir}/${_file}" _includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(_line IN LISTS _includes)
      if(NOT _line MATCHES "include[ \t]*([\"<])([^\">]+)([\">])")
        continue()
      endif()
      set(_header "${CMAKE_MATCH_2}")
      set(_spelled "${CMAKE_MATCH_1}${CMAKE_MATCH_2}${CMAKE_MATCH_3}")
      set(_why "")
      if(_header MATCHES "^(ui|app)/")
        set(_why "core never includes ui/ or app/ (dependencies point app -> ui -> core)")
      elseif(_header MATCHES "^Q[A-Za-z]*(/|$)")
        set(_why "core never includes Qt (move the code to ui/)")
      elseif(_header MATCHES "^core/([a-z_]+)/")
        if(NOT CMAKE_MATCH_1 IN_LIST _allowed)
          string(REPLACE ";" ", " _list "${VITRINE_CORE_MAY_INCLUDE_${_folder}}")
          if(_list STREQUAL "")
            set(_list "nothing outside itself")
          endif()
          set(_why "core/${_folder} may include only ${_list}")
        endif()
      endif()
      if(_why)
        list(APPEND _problems "core/${_file}: #include ${_spelled} is not allowed: ${_why}")
      endif()
    endforeach()
  endforeach()
  if(_problems)
    list(JOIN _problems "\n  " _text)
    message(FATAL_ERROR "Layering check (cmake/CoreLayering.cmake) failed:\n  ${_text}\n"
                        "Move the code to the folder that owns it, or the shared piece down to a folder both may use.")
  endif()
endfunction()
