# bpf_object(<name> <source.bpf.c> [DEPENDS headers...])
# Compiles an XDP/BPF program with clang -target bpf and turns the object into a libbpf
# skeleton header (bpftool gen skeleton). The result is an INTERFACE target `<name>_skel`
# whose include directory holds `<name>.skel.h`: C++ links it and the object is embedded in
# the binary, never looked up on disk at run time.
find_program(BPF_CLANG NAMES clang clang-14 clang-15 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
# clang -target bpf searches /usr/include but not the multiarch directory where Debian keeps
# asm/types.h (pulled in by linux/bpf.h). The directory is named by the multiarch tuple, which
# is not what `$CC -dumpmachine` prints under every compiler (clang says x86_64-pc-linux-gnu,
# gcc x86_64-linux-gnu). CMAKE_LIBRARY_ARCHITECTURE is CMake's multiarch tuple, taken from the
# compiler's implicit link directories (/usr/lib/x86_64-linux-gnu for both gcc and clang), so
# it names the same directory whichever C compiler configured the build; find_path then checks
# that asm/types.h really is there, and falls back to /usr/include on layouts without multiarch.
find_path(XESP_ASM_INCLUDE_DIR asm/types.h
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include NO_DEFAULT_PATH)
if(NOT XESP_ASM_INCLUDE_DIR)
  message(FATAL_ERROR "asm/types.h not found (Debian: linux-libc-dev) for the BPF programs")
endif()
# Warnings of the BPF programs are errors where the project's are (XESP_WERROR).
set(XESP_BPF_WARNINGS -Wall)
if(XESP_WERROR)
  list(APPEND XESP_BPF_WARNINGS -Werror)
endif()

function(bpf_object name source)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(out_dir ${CMAKE_BINARY_DIR}/bpf)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  get_filename_component(src_abs ${source} ABSOLUTE)
  get_filename_component(src_dir ${src_abs} DIRECTORY)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -target bpf -O2 -g ${XESP_BPF_WARNINGS}
            -I${src_dir} -I${CMAKE_SOURCE_DIR}/bpf -idirafter ${XESP_ASM_INCLUDE_DIR}
            -c ${src_abs} -o ${obj}
    DEPENDS ${src_abs} ${ARG_DEPENDS}
    COMMENT "BPF ${name}: clang -target bpf"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "BPF ${name}: bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${CMAKE_SOURCE_DIR}/bpf)
endfunction()
