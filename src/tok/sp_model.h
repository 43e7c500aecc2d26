/*
 * sp_model.h: SentencePiece's ModelProto (.model files) in memory, read and written.
 *
 * A .model file is one protobuf message (sentencepiece_model.proto):
 *   ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
 *                NormalizerSpec normalizer_spec = 3; SelfTestData self_test_data = 4;
 *                NormalizerSpec denormalizer_spec = 5; }
 *   SentencePiece { string piece = 1; float score = 2; Type type = 3 [NORMAL]; }
 * The id of a piece is its index in `pieces`.
 *
 * Every TrainerSpec and NormalizerSpec field of the proto is a plain struct
 * member here, set to the proto default by lilm_sp_model_init(). A `has` bit
 * per field (bit LILM_SP_HAS(number)) records that the field was present in
 * the file. The writer emits a field when its bit is set OR its value differs
 * from the default, in field-number order as protobuf does, so a model that
 * was read and written back is byte-identical, and a trainer only has to set
 * the members it cares about (or call lilm_sp_trainer_spec_mark_all() to write
 * every field, as spm_train does). Fields lilm does not know (self_test_data,
 * extensions, fields of newer versions) are kept as raw encoded bytes in
 * `extra` and written back in place.
 *
 * Strings are malloc'd, NUL-terminated, owned by the model; set them with
 * lilm_sp_str_set() so the old value is freed. A string read from a file that
 * contains a NUL byte is kept raw in `extra` instead, so nothing is lost.
 *
 * lilm_sp_model_parse() checks the wire format only (LILM_ERR_FORMAT with the
 * byte offset on any damage); lilm_sp_model_validate() adds SentencePiece's own
 * rules (non-empty unique pieces, one unk, 256 byte pieces with byte_fallback).
 */
#ifndef LILM_TOK_SP_MODEL_H
#define LILM_TOK_SP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum lilm_sp_piece_type {
    LILM_SP_NORMAL = 1,
    LILM_SP_UNKNOWN = 2,
    LILM_SP_CONTROL = 3,
    LILM_SP_USER_DEFINED = 4,
    LILM_SP_UNUSED = 5,
    LILM_SP_BYTE = 6,
} lilm_sp_piece_type;

typedef enum lilm_sp_model_type {
    LILM_SP_MODEL_UNIGRAM = 1,
    LILM_SP_MODEL_BPE = 2,
    LILM_SP_MODEL_WORD = 3,
    LILM_SP_MODEL_CHAR = 4,
} lilm_sp_model_type;

/* Bit for field `number` in a spec's `has` mask (field numbers are <= 63). */
#define LILM_SP_HAS(number) (UINT64_C(1) << (number))

/* A field kept verbatim: its complete encoding, tag included. */
typedef struct lilm_sp_raw_field {
    uint32_t number;
    size_t len;
    uint8_t *bytes;
} lilm_sp_raw_field;

typedef struct lilm_sp_raw_fields {
    lilm_sp_raw_field *items;
    size_t n;
} lilm_sp_raw_fields;

/* A repeated string field. */
typedef struct lilm_sp_strs {
    char **items;
    size_t n;
} lilm_sp_strs;

typedef struct lilm_sp_bytes {
    uint8_t *data;
    size_t len;
} lilm_sp_bytes;

typedef struct lilm_sp_piece {
    char *piece;          /* UTF-8, NUL-terminated; `len` bytes (may hold NUL only if read so) */
    size_t len;
    float score;
    int32_t type;         /* lilm_sp_piece_type */
    bool has_score;       /* written when true or score != 0 */
    bool has_type;        /* written when true or type != NORMAL */
    lilm_sp_raw_fields extra;
} lilm_sp_piece;

typedef struct lilm_sp_trainer_spec {
    uint64_t has;                        /* LILM_SP_HAS(field number) per present field */
    lilm_sp_strs input;                  /*  1 */
    char *model_prefix;                  /*  2 */
    int32_t model_type;                  /*  3 lilm_sp_model_type, default UNIGRAM */
    int32_t vocab_size;                  /*  4 default 8000 */
    lilm_sp_strs accept_language;        /*  5 */
    int32_t self_test_sample_size;       /*  6 */
    char *input_format;                  /*  7 */
    float character_coverage;            /* 10 default 0.9995 */
    uint64_t input_sentence_size;        /* 11 */
    int32_t mining_sentence_size;        /* 12 (deprecated) */
    int32_t training_sentence_size;      /* 13 (deprecated) */
    int32_t seed_sentencepiece_size;     /* 14 default 1000000 */
    float shrinking_factor;              /* 15 default 0.75 */
    int32_t num_threads;                 /* 16 default 16 */
    int32_t num_sub_iterations;          /* 17 default 2 */
    int32_t max_sentence_length;         /* 18 default 4192 */
    bool shuffle_input_sentence;         /* 19 default true */
    int32_t max_sentencepiece_length;    /* 20 default 16 */
    bool split_by_unicode_script;        /* 21 default true */
    bool split_by_whitespace;            /* 22 default true */
    bool split_by_number;                /* 23 default true */
    bool treat_whitespace_as_suffix;     /* 24 */
    bool split_digits;                   /* 25 */
    bool allow_whitespace_only_pieces;   /* 26 */
    lilm_sp_strs control_symbols;        /* 30 */
    lilm_sp_strs user_defined_symbols;   /* 31 */
    bool vocabulary_output_piece_score;  /* 32 default true */
    bool hard_vocab_limit;               /* 33 default true */
    bool use_all_vocab;                  /* 34 */
    bool byte_fallback;                  /* 35 */
    char *required_chars;                /* 36 */
    int32_t unk_id;                      /* 40 default 0 */
    int32_t bos_id;                      /* 41 default 1 */
    int32_t eos_id;                      /* 42 default 2 */
    int32_t pad_id;                      /* 43 default -1 */
    char *unk_surface;                   /* 44 default " \u2047 " */
    char *unk_piece;                     /* 45 default "<unk>" */
    char *bos_piece;                     /* 46 default "<s>" */
    char *eos_piece;                     /* 47 default "</s>" */
    char *pad_piece;                     /* 48 default "<pad>" */
    bool train_extremely_large_corpus;   /* 49 */
    bool enable_differential_privacy;    /* 50 */
    float differential_privacy_noise_level;            /* 51 */
    uint64_t differential_privacy_clipping_threshold;  /* 52 */
    char *pretokenization_delimiter;     /* 53 */
    char *seed_sentencepieces_file;      /* 54 */
    lilm_sp_raw_fields extra;            /* unknown fields, verbatim */
} lilm_sp_trainer_spec;

typedef struct lilm_sp_normalizer_spec {
    uint64_t has;
    char *name;                          /* 1 e.g. "nmt_nfkc_cf" */
    lilm_sp_bytes precompiled_charsmap;  /* 2 see normalizer.h for the layout */
    bool add_dummy_prefix;               /* 3 default true */
    bool remove_extra_whitespaces;       /* 4 default true */
    bool escape_whitespaces;             /* 5 default true */
    char *normalization_rule_tsv;        /* 6 */
    lilm_sp_raw_fields extra;
} lilm_sp_normalizer_spec;

typedef struct lilm_sp_model {
    lilm_sp_piece *pieces;               /* (n_pieces) id = index */
    size_t n_pieces, cap_pieces;
    bool has_trainer_spec, has_normalizer_spec, has_denormalizer_spec;
    lilm_sp_trainer_spec trainer_spec;
    lilm_sp_normalizer_spec normalizer_spec;
    lilm_sp_normalizer_spec denormalizer_spec;
    lilm_sp_raw_fields extra;            /* self_test_data (4) and unknown fields */
} lilm_sp_model;

/* An empty model: no pieces, every spec field at its proto default. */
void lilm_sp_model_init(lilm_sp_model *m);
void lilm_sp_model_free(lilm_sp_model *m);

/* Parses a serialized ModelProto (m is initialised first; on failure it is left
 * freed and empty). Damage is LILM_ERR_FORMAT. */
lilm_status lilm_sp_model_parse(lilm_sp_model *m, const uint8_t *data, size_t n);
/* Parses the bytes of a whole .model file: lilm_sp_model_parse, then what
 * every trained file holds: its trainer_spec and normalizer_spec (a file cut
 * at a field boundary lacks them, so every truncation is LILM_ERR_FORMAT, not
 * a smaller tokenizer) and finite scores. Any finite scores are accepted, in
 * any order, as SentencePiece accepts them. */
lilm_status lilm_sp_model_parse_file(lilm_sp_model *m, const uint8_t *data, size_t n);
/* Reads a .model file with lilm_sp_model_parse_file (LILM_ERR_IO /
 * LILM_ERR_FORMAT naming the path). */
lilm_status lilm_sp_model_read(lilm_sp_model *m, const char *path);

/* Serializes to a malloc'd buffer. */
lilm_status lilm_sp_model_serialize(const lilm_sp_model *m, uint8_t **out, size_t *n);
/* Writes a .model file atomically. */
lilm_status lilm_sp_model_write(const lilm_sp_model *m, const char *path);

/* SentencePiece's (0.2.3) load-time rules: known piece types (1..6) and
 * model type; every piece non-empty, shorter than 8000 bytes, without NUL
 * bytes (a piece that is exactly "\0" is ignored when it is UNUSED or
 * byte_fallback is set); unique (for unigram, separately among
 * normal/user-defined/unused and control/unknown/byte pieces; for the others,
 * among all); at most one UNKNOWN piece, required unless byte_fallback; BYTE
 * pieces named <0xXX>, only with byte_fallback, all 256 of them then; finite
 * scores for unigram. LILM_ERR_FORMAT naming the piece. */
lilm_status lilm_sp_model_validate(const lilm_sp_model *m);
/* True for a piece sentencepiece ignores (see above). */
bool lilm_sp_piece_skipped(const lilm_sp_model *m, size_t i);

/* Appends a piece (copied). has_score is set; has_type when type != NORMAL,
 * as spm_train writes them. */
lilm_status lilm_sp_model_add_piece(lilm_sp_model *m, const char *piece, size_t len, float score,
                                    lilm_sp_piece_type type);

/* Byte value of a "<0xXX>" piece name (upper-case hex), or -1. */
int lilm_sp_piece_byte(const char *s, size_t len);

/* Replaces *dst with a copy of s (s may be NULL to clear). */
lilm_status lilm_sp_str_set(char **dst, const char *s);
lilm_status lilm_sp_strs_push(lilm_sp_strs *v, const char *s);
lilm_status lilm_sp_bytes_set(lilm_sp_bytes *dst, const void *data, size_t n);

/* Marks every TrainerSpec field present, so all are written (spm_train's habit). */
void lilm_sp_trainer_spec_mark_all(lilm_sp_trainer_spec *ts);
/* Marks name..escape_whitespaces present (what spm_train writes). */
void lilm_sp_normalizer_spec_mark_all(lilm_sp_normalizer_spec *ns);

#endif
