//! import-uploader-preflight: the preflight of import-uploader as its own
//! WebAssembly module, shipped as the `import-uploader/preflight` export of
//! the npm package and loaded only when that export is imported, so the
//! upload build keeps its budget.
//!
//! Thin, like the upload crate: the logic is import-core's
//! ([`import_core::preflight`]); this crate only carries bytes in and
//! reports out. Reports leave through serde-wasm-bindgen (JSON-compatible
//! objects, not `Map`s). The host side (`js/preflight/`) reads the file in
//! parts, decodes legacy encodings with the platform's `TextDecoder`, and
//! runs this module in a Worker in browsers and in-process elsewhere.
//!
//! * [`sniff_encoding`] (`sniffEncoding(head)`): BOM, UTF-8 or the likely
//!   legacy encoding of the file's first bytes.
//! * [`PreflightRun`] (`new PreflightRun(options)`, `feed(utf8)`,
//!   `finish(whole)`): one preflight, streaming.

use import_core::preflight::{PreflightOptions, Preflighter};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The package version (the npm package's).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A Rust value as a plain JavaScript value (objects, not `Map`s).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("the preflight's report could not be written: {e}")))
}

/// `sniffEncoding(head)`: what import-core's
/// [`sniff_encoding`](import_core::preflight::sniff_encoding) makes of the
/// file's first bytes, as `{ encoding, confidence, bom, bomLength, binary }`.
#[wasm_bindgen(js_name = sniffEncoding)]
pub fn sniff_encoding(head: &[u8]) -> Result<JsValue, JsError> {
    to_js(&import_core::preflight::sniff_encoding(head))
}

/// One preflight: fed the file's UTF-8 bytes in order, it answers the
/// report with [`finish`](Self::finish).
#[wasm_bindgen]
pub struct PreflightRun {
    inner: Option<Preflighter>,
}

#[wasm_bindgen]
impl PreflightRun {
    /// `new PreflightRun({ schema?, importMode?, templates?, dialect?,
    /// mapping? })`: import-core's `PreflightOptions`. Throws an `Error`
    /// naming the member at fault when they do not read.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<PreflightRun, JsError> {
        let options: PreflightOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|e| JsError::new(&format!("the options do not read: {e}")))?;
        Ok(PreflightRun {
            inner: Some(Preflighter::new(options)),
        })
    }

    /// Feeds the next bytes of the file (UTF-8).
    pub fn feed(&mut self, utf8: &[u8]) -> Result<(), JsError> {
        self.running()?.feed(utf8);
        Ok(())
    }

    /// Bytes fed so far.
    #[wasm_bindgen(js_name = bytesFed)]
    pub fn bytes_fed(&self) -> f64 {
        self.inner.as_ref().map_or(0, Preflighter::bytes_fed) as f64
    }

    /// The report: on the whole file when `whole`, else on the start fed
    /// so far (its last, possibly cut, record left out). Ends the run.
    pub fn finish(&mut self, whole: bool) -> Result<JsValue, JsError> {
        let run = self
            .inner
            .take()
            .ok_or_else(|| JsError::new("this preflight has already finished"))?;
        to_js(&if whole {
            run.finish()
        } else {
            run.finish_sample()
        })
    }

    fn running(&mut self) -> Result<&mut Preflighter, JsError> {
        self.inner
            .as_mut()
            .ok_or_else(|| JsError::new("this preflight has already finished"))
    }
}

/// Re-writes a file's UTF-8 text in its dialect as the CSV the API reads
/// (UTF-8, `,`, quotes where needed): import-core's
/// [`Normaliser`](import_core::preflight::Normaliser), fed in parts.
#[wasm_bindgen]
pub struct NormaliserRun {
    inner: import_core::preflight::Normaliser,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl NormaliserRun {
    /// `new NormaliserRun(dialect)`: the `dialect` of a preflight's report.
    #[wasm_bindgen(constructor)]
    pub fn new(dialect: JsValue) -> Result<NormaliserRun, JsError> {
        let dialect: import_core::preflight::Dialect = serde_wasm_bindgen::from_value(dialect)
            .map_err(|e| JsError::new(&format!("the dialect does not read: {e}")))?;
        Ok(NormaliserRun {
            inner: import_core::preflight::Normaliser::new(&dialect),
            out: Vec::new(),
        })
    }

    /// Feeds the next UTF-8 bytes; answers the normalised bytes they make
    /// (possibly none: a record is written when it is complete).
    pub fn push(&mut self, utf8: &[u8]) -> Vec<u8> {
        self.out.clear();
        self.inner.push(utf8, &mut self.out);
        std::mem::take(&mut self.out)
    }

    /// The end of the input: answers the rest.
    pub fn finish(&mut self) -> Vec<u8> {
        self.out.clear();
        self.inner.finish(&mut self.out);
        std::mem::take(&mut self.out)
    }

    /// Bytes written so far.
    pub fn written(&self) -> f64 {
        self.inner.written() as f64
    }
}
