//! Reading a data file that may be gzipped: `NAME.gz` first, else `NAME`.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::DataError;

/// The most a deflate stream can expand one byte into (1032:1), used to cap
/// the buffer reserved from a gzip trailer's size field.
const MAX_DEFLATE_RATIO: usize = 1032;

/// The bytes of `dir/name.gz` decompressed, or else of `dir/name`, with the
/// path of the file actually read.
pub(crate) fn read(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), DataError> {
    let gz = dir.join(format!("{name}.gz"));
    match fs::read(&gz) {
        Ok(compressed) => {
            let bytes = gunzip(&gz, &compressed)?;
            Ok((gz, bytes))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let raw = dir.join(name);
            match fs::read(&raw) {
                Ok(bytes) => Ok((raw, bytes)),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    Err(DataError::Missing { raw, gz })
                }
                Err(source) => Err(DataError::Io { path: raw, source }),
            }
        }
        Err(source) => Err(DataError::Io { path: gz, source }),
    }
}

/// Decompresses a whole gzip file (all members) read from `path`.
fn gunzip(path: &Path, compressed: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::with_capacity(size_hint(compressed));
    MultiGzDecoder::new(compressed)
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

/// The decompressed size the gzip trailer states (modulo 2^32), capped by
/// what the compressed length allows; 0 when there is no trailer.
fn size_hint(compressed: &[u8]) -> usize {
    let Some(trailer) = compressed.last_chunk::<4>() else {
        return 0;
    };
    let stated = u32::from_le_bytes(*trailer);
    usize::try_from(stated)
        .unwrap_or(0)
        .min(compressed.len().saturating_mul(MAX_DEFLATE_RATIO))
}
