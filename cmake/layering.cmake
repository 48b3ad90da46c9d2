# The layering rules (README "Layout"), checked when the build is configured:
# each layer's target may link only the layers below it and the packages
# listed here. A header would still compile through the shared include path,
# so tests/CMakeLists.txt also greps every folder's includes.
#
#   util/            Abseil only (the client links it too)
#   model/kernels/   util, Eigen, Abseil, glog
#   model/engine/    kernels, util, Eigen, Abseil, glog
#   model/importers/ engine, kernels, util, Eigen, Abseil, glog, nlohmann_json, ONNX, OpenSSL,
#                    libhdf5, libzip
#   tools/           importers and what flags need
#   server/          model, util, proto, gRPC, Prometheus, Redis
#   client/          proto (and the health stubs), util, Abseil, nlohmann_json

# Fails the configuration if `target` links anything whose name does not match
# `allowed` (a regex), directly or through its public interface.
function(rnnserve_check_links target allowed)
  get_target_property(type ${target} TYPE)
  set(links)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(direct ${target} LINK_LIBRARIES)
    if(direct)
      list(APPEND links ${direct})
    endif()
  endif()
  get_target_property(interface ${target} INTERFACE_LINK_LIBRARIES)
  if(interface)
    list(APPEND links ${interface})
  endif()
  foreach(link IN LISTS links)
    # A static library's private links show up as $<LINK_ONLY:name>.
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" name "${link}")
    if(NOT name MATCHES "^(${allowed})$")
      message(FATAL_ERROR "layering: ${target} links ${name}; it may link only ${allowed} "
                          "(cmake/layering.cmake)")
    endif()
  endforeach()
endfunction()

set(_absl "absl::[a-z_]+")
rnnserve_check_links(rnnserve_util "${_absl}")
rnnserve_check_links(rnnserve_kernels "rnnserve_util|Eigen3::Eigen|${_absl}|glog::glog")
rnnserve_check_links(rnnserve_engine
                     "rnnserve_kernels|rnnserve_util|Eigen3::Eigen|${_absl}|glog::glog")
rnnserve_check_links(rnnserve_importers
                     "rnnserve_engine|rnnserve_kernels|rnnserve_util|Eigen3::Eigen|${_absl}|glog::glog|nlohmann_json::nlohmann_json|onnx_proto|OpenSSL::Crypto|PkgConfig::hdf5|PkgConfig::libzip")
rnnserve_check_links(rnnserve_model "rnnserve_importers")
rnnserve_check_links(rnnserve-model "rnnserve_importers|rnnserve_util|${_absl}")
rnnserve_check_links(rnnserve_client_lib
                     "rnnserve_proto|grpc_health_proto|rnnserve_util|${_absl}|nlohmann_json::nlohmann_json|Threads::Threads")
rnnserve_check_links(rnnserve-cli "rnnserve_client_lib")
