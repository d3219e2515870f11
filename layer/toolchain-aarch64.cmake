# Cross build for arm64 (Graviton) Lambda functions on a Debian x86_64 machine.
#
# Uses Debian's cross compiler (crossbuild-essential-arm64) and the arm64 multiarch -dev packages
# (libcurl4-openssl-dev:arm64, libcjson-dev:arm64, libprotobuf-c-dev:arm64), which install under
# /usr/lib/aarch64-linux-gnu. Programs that run during the build (protoc-c) stay host programs.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=layer/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LW_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${LW_CROSS_TRIPLET}-gcc)
set(CMAKE_STRIP ${LW_CROSS_TRIPLET}-strip CACHE FILEPATH "strip for the target")

# Headers and libraries: the cross compiler's own sysroot holds the C library; the multiarch
# directories hold everything else. Never fall back to the host's x86_64 libraries.
set(CMAKE_FIND_ROOT_PATH /usr/${LW_CROSS_TRIPLET})
set(CMAKE_LIBRARY_ARCHITECTURE ${LW_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must describe the arm64 packages, not the host's: only the arm64 .pc directory and
# the architecture-independent one are searched. (Debian ships no <triplet>-pkg-config wrapper
# with crossbuild-essential, so the search path is set here.)
set(LW_CROSS_PC_DIRS "/usr/lib/${LW_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")

# zlib: the arm64 runtime (zlib1g:arm64) comes with libcurl, the -dev package (zlib1g-dev:arm64,
# in tests/install-deps) may be missing. Then describe the runtime library in a .pc of the build
# tree; zlib.h/zconf.h are the same for every architecture on Debian (zlib1g-dev of the host).
if(NOT EXISTS /usr/lib/${LW_CROSS_TRIPLET}/pkgconfig/zlib.pc
   AND EXISTS /usr/lib/${LW_CROSS_TRIPLET}/libz.so.1 AND EXISTS /usr/include/zlib.h)
    # The first load (the project's own) picks the folder; later loads inside try_compile()
    # projects, whose CMAKE_BINARY_DIR is temporary, reuse it.
    if(NOT DEFINED ENV{LW_CROSS_PC_FALLBACK})
        set(ENV{LW_CROSS_PC_FALLBACK} ${CMAKE_BINARY_DIR}/cross-pkgconfig)
    endif()
    set(LW_CROSS_PC_FALLBACK $ENV{LW_CROSS_PC_FALLBACK})
    # pkg_check_modules(IMPORTED_TARGET) resolves -L/-l pairs: give it the link a -dev package
    # would have installed.
    file(MAKE_DIRECTORY ${LW_CROSS_PC_FALLBACK}/lib)
    file(CREATE_LINK /usr/lib/${LW_CROSS_TRIPLET}/libz.so.1 ${LW_CROSS_PC_FALLBACK}/lib/libz.so
         SYMBOLIC)
    file(WRITE ${LW_CROSS_PC_FALLBACK}/zlib.pc
        "Name: zlib\nDescription: zlib (arm64 runtime library, no -dev package)\nVersion: 1.2.13\n"
        "Libs: -L${LW_CROSS_PC_FALLBACK}/lib -lz\nCflags:\n")
    string(APPEND LW_CROSS_PC_DIRS ":${LW_CROSS_PC_FALLBACK}")
endif()
set(ENV{PKG_CONFIG_LIBDIR} "${LW_CROSS_PC_DIRS}")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
