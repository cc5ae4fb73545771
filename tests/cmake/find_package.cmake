# cmake -DBUILD=<kiln build dir> -DSRC=<kiln source dir> -DWORK=<scratch> -P find_package.cmake
# Installs kiln into a prefix, then builds examples/host as an outside project that only knows
# find_package(kiln) — the way a user consumes an installed kiln — and runs it.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/examples/host -B ${WORK}/app -DCMAKE_PREFIX_PATH=${WORK}/prefix
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring against the installed kiln failed:\n${out}${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/app RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building against the installed kiln failed:\n${out}${err}")
endif()
execute_process(COMMAND ${WORK}/app/digits ${SRC}/tests/models/digits_cnn/heldout.bin RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "accuracy on 360")
  message(FATAL_ERROR "the app built against the installed kiln failed:\n${out}")
endif()
