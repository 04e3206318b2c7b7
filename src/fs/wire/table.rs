//! The table form of the BenchFS messages: [`messages!`] turns one list of entries (name,
//! number on the wire, fields with their codecs) into the message enum, the enum of its
//! numbers, the number's decoding and name, and the encoding and decoding of every field,
//! so that a message is declared once.
//!
//! Owns the macro only; the tables themselves are in [`super::requests`] and
//! [`super::responses`], the field layouts in [`super::codec`]. Knows nothing of frames.

/// The codec of a field: the one named in the table, else [`super::codec::Plain`].
macro_rules! codec_of {
    () => {
        $crate::fs::wire::codec::Plain
    };
    ($codec:ty) => {
        $codec
    };
}
pub(crate) use codec_of;

/// Declares a message enum from its table.
///
/// ```text
/// messages! {
///     /// Docs of the message enum.
///     pub enum Request;
///     /// Docs of the number enum.
///     pub enum Op: u16, fn op;
///     /// Docs of an entry.
///     Lookup = 2 { /// Docs of a field.
///                  path: String => Text<MAX_PATH_LEN> },
///     Written = 5 (n: u32),      // a variant with one unnamed field
///     SyncMeta = 14,             // a variant without fields
/// }
/// ```
///
/// Generates `enum Request` (the entries as variants), `enum Op` (`#[repr(u16)]`, the
/// entries' numbers), `Op::from_number` and `Op::name`, `Request::op` (the entry of a
/// message), and the private `Request::put_fields` / `Request::get_fields`, which write and
/// read the fields in table order with their codecs (a field without `=> codec` uses
/// `Plain`).
macro_rules! messages {
    (
        $(#[$emeta:meta])*
        pub enum $Enum:ident;
        $(#[$kmeta:meta])*
        pub enum $Kind:ident : $repr:ident, fn $kind_fn:ident;
        $(
            $(#[$vmeta:meta])*
            $name:ident = $code:literal
            $( { $( $(#[$fmeta:meta])* $field:ident : $fty:ty $(=> $fcodec:ty)? ),* $(,)? } )?
            $( ( $tfield:ident : $tty:ty $(=> $tcodec:ty)? ) )?
        ),* $(,)?
    ) => {
        $(#[$emeta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $Enum {
            $(
                $(#[$vmeta])*
                $name $( { $( $(#[$fmeta])* $field: $fty, )* } )? $( ($tty) )?,
            )*
        }

        $(#[$kmeta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr($repr)]
        pub enum $Kind {
            $(
                #[doc = concat!("[`", stringify!($Enum), "::", stringify!($name), "`].")]
                $name = $code,
            )*
        }

        impl $Kind {
            /// The entry a number on the wire stands for, if any.
            pub fn from_number(v: $repr) -> Option<$Kind> {
                match v {
                    $( $code => Some($Kind::$name), )*
                    _ => None,
                }
            }

            /// The entry's name.
            pub fn name(self) -> &'static str {
                match self {
                    $( $Kind::$name => stringify!($name), )*
                }
            }
        }

        impl $Enum {
            #[doc = concat!("The [`", stringify!($Kind), "`] of this message.")]
            pub fn $kind_fn(&self) -> $Kind {
                match self {
                    $( $Enum::$name { .. } => $Kind::$name, )*
                }
            }

            /// Appends the fields, in table order.
            fn put_fields(&self, b: &mut ::bytes::BytesMut) {
                use $crate::fs::wire::codec::Codec;
                match self {
                    $(
                        $Enum::$name $( { $( $field ),* } )? $( ($tfield) )? => {
                            $( $(
                                <$crate::fs::wire::table::codec_of!($($fcodec)?) as Codec<$fty>>
                                    ::put(b, $field);
                            )* )?
                            $(
                                <$crate::fs::wire::table::codec_of!($($tcodec)?) as Codec<$tty>>
                                    ::put(b, $tfield);
                            )?
                        }
                    )*
                }
            }

            /// Reads the fields of a message of entry `kind`, in table order.
            fn get_fields(
                kind: $Kind,
                r: &mut $crate::fs::wire::codec::Reader<'_>,
            ) -> $crate::fs::error::FsResult<$Enum> {
                use $crate::fs::wire::codec::Codec;
                Ok(match kind {
                    $(
                        $Kind::$name => $Enum::$name
                            $( { $(
                                $field: <$crate::fs::wire::table::codec_of!($($fcodec)?)
                                    as Codec<$fty>>::get(r)?,
                            )* } )?
                            $( (
                                <$crate::fs::wire::table::codec_of!($($tcodec)?)
                                    as Codec<$tty>>::get(r)?
                            ) )?,
                    )*
                })
            }
        }
    };
}
pub(crate) use messages;
