/*
 * smgw_ecdh: the receiving side of ephemeral-static ECDH (RFC 5753 / BSI TR-03111 ECKA) with
 * an in-memory private key, through the OpenSSL that node itself runs on.
 *
 * Why native: node:crypto's diffieHellman() derives through EVP_PKEY_derive_set_peer(), which
 * in OpenSSL 3.0 runs the *full* public-key check on the peer, including n·Q = O (SP 800-56A
 * §5.6.2.3.3 step 4): a second scalar multiplication per agreement. For the curves TR-03109-3
 * allows (brainpoolP256r1/P384r1/P512r1, NIST P-256/P-384) the cofactor is 1, so every point
 * on the curve other than O has order n and the partial check (§5.6.2.3.4: coordinates in
 * range, on the curve, not O) is the whole check. Node offers no way to skip it, and its
 * createECDH().computeSecret() re-checks the own key pair (two multiplications) on every
 * call. Here: the point imported from its raw encoding (EVP_PKEY_fromdata: in range and on
 * the curve, no DER decoder), the partial check (EVP_PKEY_public_check_quick), one derive.
 * Measured on brainpoolP256r1: 330 µs against 680 µs for createPublicKey + diffieHellman.
 *
 * OpenSSL's error queue is node's too: each call sets a mark first and pops back to it before
 * it returns, so what this code leaves there never reaches node's next error message.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_PKEY *key;
  char group[32];
} agreer_t;

static napi_value fail(napi_env env, const char *code, const char *message) {
  ERR_pop_to_mark();
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value succeed(napi_value result) {
  ERR_pop_to_mark();
  return result;
}

static int bytes_of(napi_env env, napi_value value, const unsigned char **data, size_t *length) {
  napi_typedarray_type type;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = raw;
  return 1;
}

static void free_agreer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  agreer_t *agreer = data;
  EVP_PKEY_free(agreer->key);
  free(agreer);
}

/* createAgreer(pkcs8: Uint8Array): an opaque handle holding the EC private key. */
static napi_value create_agreer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  const unsigned char *der;
  size_t length;
  ERR_set_mark();
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !bytes_of(env, argv[0], &der, &length)) {
    return fail(env, "INVALID_ARGUMENT", "createAgreer(pkcs8: Uint8Array)");
  }
  const unsigned char *p = der;
  EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)length);
  if (key == NULL || p != der + length || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    EVP_PKEY_free(key);
    return fail(env, "KEY_MALFORMED", "not a PKCS#8 EC private key");
  }
  agreer_t *agreer = calloc(1, sizeof *agreer);
  if (agreer == NULL) {
    EVP_PKEY_free(key);
    return fail(env, "INVALID_ARGUMENT", "out of memory");
  }
  agreer->key = key;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, agreer->group, sizeof agreer->group, NULL) != 1) {
    free_agreer(env, agreer, NULL);
    return fail(env, "CURVE_UNSUPPORTED", "the private key has no named curve");
  }
  // The partial check in derive() is the whole check only for cofactor 1 (see the top).
  BIGNUM *cofactor = NULL;
  int cofactor_one = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_COFACTOR, &cofactor) == 1 && BN_is_one(cofactor);
  BN_free(cofactor);
  if (!cofactor_one) {
    free_agreer(env, agreer, NULL);
    return fail(env, "CURVE_UNSUPPORTED", "the private key's curve has a cofactor other than 1");
  }
  napi_value handle;
  if (napi_create_external(env, agreer, free_agreer, NULL, &handle) != napi_ok) {
    free_agreer(env, agreer, NULL);
    return fail(env, "INVALID_ARGUMENT", "cannot create the handle");
  }
  return succeed(handle);
}

/* derive(agreer, point: Uint8Array): the shared x-coordinate; PUBLIC_KEY_INVALID for a point that fails the check. */
static napi_value derive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  agreer_t *agreer;
  const unsigned char *point;
  size_t length;
  ERR_set_mark();
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_external(env, argv[0], (void **)&agreer) != napi_ok || !bytes_of(env, argv[1], &point, &length)) {
    return fail(env, "INVALID_ARGUMENT", "derive(agreer, point: Uint8Array)");
  }
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, agreer->group, 0),
    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, length),
    OSSL_PARAM_construct_end(),
  };
  napi_value result = NULL;
  const char *code = "PUBLIC_KEY_INVALID";
  const char *message = "the peer point does not decode on the curve (SEC 1 §2.3.4, coordinates in range, on the curve)";
  EVP_PKEY *peer = NULL;
  EVP_PKEY_CTX *import = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  EVP_PKEY_CTX *check = NULL;
  EVP_PKEY_CTX *agree = NULL;
  if (import == NULL || EVP_PKEY_fromdata_init(import) != 1 || EVP_PKEY_fromdata(import, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1) goto done;
  check = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
  message = "the peer point fails the partial public-key check (SP 800-56A §5.6.2.3.4)";
  if (check == NULL || EVP_PKEY_public_check_quick(check) != 1) goto done;
  agree = EVP_PKEY_CTX_new_from_pkey(NULL, agreer->key, NULL);
  size_t secret_length = 0;
  code = "INVALID_ARGUMENT";
  message = "ECDH failed";
  // validate_peer 0: the partial check above is the whole check for cofactor 1 (see the top).
  if (agree == NULL || EVP_PKEY_derive_init(agree) != 1 || EVP_PKEY_derive_set_peer_ex(agree, peer, 0) != 1 ||
      EVP_PKEY_derive(agree, NULL, &secret_length) != 1) goto done;
  void *out;
  napi_value buffer;
  if (napi_create_buffer(env, secret_length, &out, &buffer) != napi_ok) goto done;
  if (EVP_PKEY_derive(agree, out, &secret_length) != 1) goto done;
  result = buffer;
done:
  EVP_PKEY_CTX_free(agree);
  EVP_PKEY_CTX_free(check);
  EVP_PKEY_CTX_free(import);
  EVP_PKEY_free(peer);
  if (result == NULL) return fail(env, code, message);
  return succeed(result);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    { "createAgreer", NULL, create_agreer, NULL, NULL, NULL, napi_enumerable, NULL },
    { "derive", NULL, derive, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
