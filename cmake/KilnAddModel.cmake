# kiln_add_model(<target> MODEL <file.onnx> [NAMESPACE <ns>] [HEADER <name.hpp>] [ARGS <kiln compile args>...])
#
# Generates <name>.hpp from the model at build time (again whenever the model or the kiln
# executable changes) and defines <target>, an INTERFACE library that puts the header on the
# include path and links kiln::runtime. Works after find_package(kiln) and with add_subdirectory.
function(kiln_add_model target)
  cmake_parse_arguments(KAM "" "MODEL;NAMESPACE;HEADER" "ARGS" ${ARGN})
  if(NOT KAM_MODEL)
    message(FATAL_ERROR "kiln_add_model(${target}): MODEL is required")
  endif()
  get_filename_component(model "${KAM_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT KAM_NAMESPACE)
    set(KAM_NAMESPACE ${target})
  endif()
  if(NOT KAM_HEADER)
    set(KAM_HEADER ${target}.hpp)
  endif()
  if(TARGET kiln::kiln)
    set(kiln_exe $<TARGET_FILE:kiln::kiln>)
    set(kiln_dep kiln::kiln)
  else()
    message(FATAL_ERROR "kiln_add_model: the kiln executable (target kiln::kiln) is not available")
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/kiln_models/${target})
  set(header ${out_dir}/${KAM_HEADER})
  add_custom_command(
    OUTPUT ${header}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${kiln_exe} compile ${model} -o ${header} --namespace ${KAM_NAMESPACE} ${KAM_ARGS}
    DEPENDS ${model} ${kiln_dep}
    COMMENT "kiln: generating ${KAM_HEADER} from ${KAM_MODEL}"
    VERBATIM)
  add_custom_target(${target}_header DEPENDS ${header})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_header)
  target_include_directories(${target} INTERFACE ${out_dir})
  target_link_libraries(${target} INTERFACE kiln::runtime)
endfunction()
