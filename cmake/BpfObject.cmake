# bpf_object(<name> <source.bpf.c> [DEPENDS headers...])
# Compiles an XDP/BPF program with clang -target bpf and turns the object into a libbpf
# skeleton header (bpftool gen skeleton). The result is an INTERFACE target `<name>_skel`
# whose include directory holds `<name>.skel.h`: C++ links it and the object is embedded in
# the binary, never looked up on disk at run time.
find_program(BPF_CLANG NAMES clang clang-14 clang-15 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -dumpmachine
                OUTPUT_VARIABLE XESP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)

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
    # asm/types.h lives in the multiarch include dir, which clang -target bpf does not search.
    COMMAND ${BPF_CLANG} -target bpf -O2 -g -Wall -Werror
            -I${src_dir} -I${CMAKE_SOURCE_DIR}/bpf -idirafter /usr/include/${XESP_MULTIARCH}
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
