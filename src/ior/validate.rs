//! TEMPORARY stand-in (replaced by the validation module at merge).
use crate::ior::params::IorParams;
/// err
#[derive(Debug)]
pub struct ValidationError(pub String);
impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR: {}", self.0)
    }
}
/// validate
pub fn validate(p: &mut IorParams, _w: usize, _f: bool) -> Result<Vec<String>, ValidationError> {
    if p.write_file == 0 && p.read_file == 0 && p.check_write == 0 && p.check_read == 0 {
        p.write_file = 1;
        p.read_file = 1;
    }
    Ok(vec![])
}
