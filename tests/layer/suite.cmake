# The layer suite (label `layer`): build each architecture's layer zip the way a release does, then
# prove with layer/check-layer that it is self-contained and runs the lifecycle in the emulator.
# The layer builds live in <build>/layer and are reused, so a second run is incremental.
# check-layer exits 77 (ctest: skipped) when the lifecycle cannot run yet (no emulator, no sample
# function or a daemon without the Extensions API); every other check still has to pass.
set(LW_LAYER_WORK ${CMAKE_BINARY_DIR}/layer)
set(LW_LAYER_DIST ${LW_LAYER_WORK}/dist)
# libcurl is built once from Debian's curl source package and kept in the build tree
# (layer/curlbuild.py); every layer build of this tree and the layer tests share that cache.
set(LW_LAYER_CACHE ${LW_LAYER_WORK}/layer-cache)
set(LW_LAYER_LIBCURL source CACHE STRING
    "libcurl in the layers: source (built from Debian's curl source package for OTLP only) or debian (Debian's libcurl4 with its whole closure, the fallback)")
set_property(CACHE LW_LAYER_LIBCURL PROPERTY STRINGS source debian)

set(LW_LAYER_ARCHES x86_64)
find_program(LW_AARCH64_CC aarch64-linux-gnu-gcc)
find_program(LW_QEMU_AARCH64 qemu-aarch64)
if(LW_AARCH64_CC AND LW_QEMU_AARCH64 AND EXISTS /usr/lib/aarch64-linux-gnu/pkgconfig/libcurl.pc)
    list(APPEND LW_LAYER_ARCHES arm64)
else()
    message(STATUS "layer: no arm64 cross toolchain or qemu-aarch64; only the x86_64 layer is tested")
endif()

set(LW_LAYER_ARCHES_ZIPS)
foreach(arch ${LW_LAYER_ARCHES})
    list(APPEND LW_LAYER_ARCHES_ZIPS layer_zip_${arch})
    add_test(NAME layer.build.${arch}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/layer/build-layer --arch ${arch}
                     --out ${LW_LAYER_DIST} --build-root ${LW_LAYER_WORK}
                     --cache ${LW_LAYER_CACHE} --libcurl ${LW_LAYER_LIBCURL})
    set_tests_properties(layer.build.${arch} PROPERTIES LABELS layer TIMEOUT 900
        FIXTURES_SETUP layer_zip_${arch} RESOURCE_LOCK layer_build)
    add_test(NAME layer.check.${arch}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/layer/check-layer
                     ${LW_LAYER_DIST}/leakwatch-${PROJECT_VERSION}-${arch}.zip
                     --function ${CMAKE_BINARY_DIR}/functions/steady --lifecycle require)
    set_tests_properties(layer.check.${arch} PROPERTIES LABELS layer TIMEOUT 900
        FIXTURES_REQUIRED layer_zip_${arch} SKIP_RETURN_CODE 77)
    # The static daemon bundles no library (a launcher layer: the bundled libcurl's closure), and a
    # real HTTPS POST through the layer's libcurl to a local TLS receiver.
    add_test(NAME layer.https.${arch}
             COMMAND ${Python3_EXECUTABLE} -m unittest -v test_https
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/layer)
    set_tests_properties(layer.https.${arch} PROPERTIES LABELS layer TIMEOUT 600
        FIXTURES_REQUIRED layer_zip_${arch}
        ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_LAYER_ZIP=${LW_LAYER_DIST}/leakwatch-${PROJECT_VERSION}-${arch}.zip;LW_LAYER_LIBCURL=${LW_LAYER_LIBCURL};LW_LAYER_CACHE=${LW_LAYER_CACHE};PYTHONDONTWRITEBYTECODE=1")
endforeach()

# The integration tests once more, against the packaged x86_64 layer instead of the bare binary;
# test_otlp_export exports through the libcurl linked into the layer's static daemon.
add_test(NAME layer.integration.x86_64
         COMMAND ${Python3_EXECUTABLE} -m unittest test_extension test_telemetry_join test_otlp_export
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/integration)
set_tests_properties(layer.integration.x86_64 PROPERTIES LABELS layer TIMEOUT 900
    FIXTURES_REQUIRED layer_zip_x86_64
    ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_BUILD_DIR=${CMAKE_BINARY_DIR};LW_LAYER_ZIP=${LW_LAYER_DIST}/leakwatch-${PROJECT_VERSION}-x86_64.zip;PYTHONDONTWRITEBYTECODE=1")

if("arm64" IN_LIST LW_LAYER_ARCHES)
    # The same tests against the arm64 layer: its static daemon runs under qemu-user, started
    # by a script (check-layer does the same; with --libcurl debian, a launcher built for this
    # machine starts the layer's loader through qemu-user). Not test_otlp_export: its timeout
    # cases time the exporter against the invocations, and under qemu-user that timing is the
    # emulator's (one CI run: no drop reached an invocation record before SHUTDOWN). The arm64
    # libcurl.a posts over HTTPS in layer.https.arm64.
    set(qemu_launcher ${LW_LAYER_WORK}/launcher-qemu-arm64)
    add_test(NAME layer.integration.arm64
             COMMAND sh -c "cc -std=c11 -D_GNU_SOURCE -static -Os -DLW_LAUNCHER_EMULATOR='\"${LW_QEMU_AARCH64}\"' -DLW_LAUNCHER_LOADER='\"ld-linux-aarch64.so.1\"' -o ${qemu_launcher} ${CMAKE_SOURCE_DIR}/layer/launcher.c && ${Python3_EXECUTABLE} -m unittest test_extension test_telemetry_join"
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/integration)
    set_tests_properties(layer.integration.arm64 PROPERTIES LABELS layer TIMEOUT 900
        FIXTURES_REQUIRED layer_zip_arm64
        ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_BUILD_DIR=${CMAKE_BINARY_DIR};LW_LAYER_ZIP=${LW_LAYER_DIST}/leakwatch-${PROJECT_VERSION}-arm64.zip;LW_LAYER_QEMU=${LW_QEMU_AARCH64};LW_LAYER_LAUNCHER=${qemu_launcher};PYTHONDONTWRITEBYTECODE=1")
endif()

add_test(NAME layer.test_layer
         COMMAND ${Python3_EXECUTABLE} -m unittest -v test_layer
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/layer)
# After the layer builds: its layers take libcurl from the cache they filled.
set_tests_properties(layer.test_layer PROPERTIES LABELS layer TIMEOUT 900
    FIXTURES_REQUIRED "${LW_LAYER_ARCHES_ZIPS}"
    ENVIRONMENT "LW_SOURCE_DIR=${CMAKE_SOURCE_DIR};LW_LAYER_CACHE=${LW_LAYER_CACHE};LW_LAYER_LIBCURL=${LW_LAYER_LIBCURL};PYTHONDONTWRITEBYTECODE=1")
