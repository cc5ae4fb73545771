# cmake -DKILN=.. -DDOC=docs/supported-ops.md -P doc_current.cmake
execute_process(COMMAND ${KILN} ops --format md OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
file(READ ${DOC} committed)
if(NOT rc EQUAL 0 OR NOT generated STREQUAL committed)
  message(FATAL_ERROR "${DOC} is out of date: regenerate with `kiln ops --format md > docs/supported-ops.md`")
endif()
