//! Checking class labels read from a file.

use std::path::Path;

use super::DataError;

/// The labels `bytes` of the file `path` as class indices; fails at the
/// first one that is not below `classes`.
pub(crate) fn checked(
    path: &Path,
    bytes: impl IntoIterator<Item = u8>,
    classes: usize,
) -> Result<Vec<usize>, DataError> {
    bytes
        .into_iter()
        .enumerate()
        .map(|(index, label)| {
            if usize::from(label) < classes {
                Ok(usize::from(label))
            } else {
                Err(DataError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    label,
                    index,
                    classes,
                })
            }
        })
        .collect()
}
