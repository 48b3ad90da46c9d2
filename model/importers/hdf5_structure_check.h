// A structural check of an HDF5 file in memory, run before libhdf5 opens it.
// libhdf5 1.10.8 (Debian bookworm) decodes version-1 object headers, which
// carry no checksum, without checking that what a message declares fits in
// the message: an attribute message whose dataspace size runs past its end
// made H5O_attr_decode copy from beyond the header chunk (fuzz/keras_fuzzer:
// a use-after-free or SEGV under ASan, undefined behaviour in a release
// build). Keras' files are the HDF5 subset h5py writes by default (superblock
// 0, version-1 object headers, symbol-table groups), so that subset is walked
// here from the superblock through every group, as libhdf5 would reach it,
// and refused when a structure lies outside the file or a message overruns
// its chunk. Version-2 object headers ("OHDR", superblock 2 and 3 files) are
// not walked: libhdf5 verifies their checksums before decoding them.
#ifndef RNNSERVE_MODEL_IMPORTERS_HDF5_STRUCTURE_CHECK_H_
#define RNNSERVE_MODEL_IMPORTERS_HDF5_STRUCTURE_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rnnserve::model {

// INVALID_ARGUMENT naming `source`, the object's path, the byte offset and the
// problem when `bytes` (an HDF5 file starting at offset 0) has a superblock,
// object header, header continuation, attribute message, group B-tree node,
// symbol node or local heap that lies outside the file or overruns its
// container, or more objects than a model file plausibly has.
absl::Status CheckHdf5Structure(absl::string_view bytes, absl::string_view source);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_HDF5_STRUCTURE_CHECK_H_
