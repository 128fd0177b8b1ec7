# Who may talk to the cache: ACL users whose passwords come from Secrets
# Manager (container `secrets`, so they never appear in the task definition),
# and optional TLS.

variable "app_password_secret_arn" {
  description = "Secrets Manager secret (ECS valueFrom form: the secret ARN, or ARN:json-key:: for one key of a JSON secret) holding the application user's password. null runs an unauthenticated cache, which needs allow_unauthenticated = true."
  type        = string
  default     = null

  validation {
    condition     = var.app_password_secret_arn != null || var.allow_unauthenticated
    error_message = "Set app_password_secret_arn (a Secrets Manager secret with the application password), or set allow_unauthenticated = true to run a cache any client in the security groups can FLUSHALL or SHUTDOWN."
  }

  validation {
    condition     = var.app_password_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.app_password_secret_arn))
    error_message = "The app_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>::])."
  }
}

variable "allow_unauthenticated" {
  description = "Run without a password when app_password_secret_arn is null. Only for throw-away environments: anything that reaches the port can read, flush or shut down the cache."
  type        = bool
  default     = false
}

variable "app_user" {
  description = "ACL user the application (and the health check) authenticates as. \"default\" keeps clients that send AUTH <password> only working; any other name turns the default user off."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.app_user))
    error_message = "The app_user must be 1-64 letters, digits, _ . or -."
  }
}

variable "app_acl_rules" {
  description = "ACL rules of the application user (valkey ACL SETUSER syntax, space separated). The health check runs as this user and needs PING and INFO."
  type        = string
  default     = "~* &* +@all -@dangerous +info"

  validation {
    condition     = can(regex("^[^'\"\\\\<>$`;|]+$", var.app_acl_rules)) && can(regex("[+]", var.app_acl_rules))
    error_message = "The app_acl_rules must be ACL rules such as \"~* &* +@all -@dangerous +info\": no quotes, passwords (> or <), $, ` ; | or backslashes (passwords come from app_password_secret_arn)."
  }
}

variable "harness_password_secret_arn" {
  description = "Secrets Manager secret (valueFrom form) with the password of a separate ACL user for valkey-chaos (harness_user), limited to its key prefix and the few commands it runs. null: no harness user."
  type        = string
  default     = null

  validation {
    condition     = var.harness_password_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:", var.harness_password_secret_arn))
    error_message = "The harness_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>::])."
  }

  validation {
    condition     = var.harness_password_secret_arn == null || var.app_password_secret_arn != null
    error_message = "A harness user only makes sense on an authenticated cache: set app_password_secret_arn too."
  }
}

variable "harness_user" {
  description = "ACL user name of valkey-chaos (its --user)."
  type        = string
  default     = "valkey-chaos"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.harness_user))
    error_message = "The harness_user must be 1-64 letters, digits, _ . or -."
  }
}

variable "harness_key_prefix" {
  description = "Key prefix valkey-chaos writes under (its load keys are vc:...); the harness user may touch no other key."
  type        = string
  default     = "vc:"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.:-]{1,32}$", var.harness_key_prefix))
    error_message = "The harness_key_prefix must be 1-32 letters, digits, _ . : or - (no glob characters)."
  }
}

variable "harness_may_crash" {
  description = "Let the harness user run SHUTDOWN (the crash fault: SHUTDOWN NOSAVE). Off: the crash fault is refused by the server with NOPERM."
  type        = bool
  default     = false
}

variable "tls_enabled" {
  description = "Serve TLS only (tls-port on container_port, plain port off). Certificate and key come from Secrets Manager (tls_*_secret_arn, PEM text, written at start-up to /data/.tls with mode 0600) or from files already on the volume (tls_*_file)."
  type        = bool
  default     = false
}

variable "tls_cert_secret_arn" {
  description = "Secret (valueFrom form) holding the server certificate chain in PEM. Exclusive with tls_cert_file."
  type        = string
  default     = null
}

variable "tls_key_secret_arn" {
  description = "Secret (valueFrom form) holding the server private key in PEM. Exclusive with tls_key_file."
  type        = string
  default     = null
}

variable "tls_ca_secret_arn" {
  description = "Secret (valueFrom form) holding the CA bundle in PEM that client certificates are checked against (needed when tls_auth_clients is not \"no\"). Exclusive with tls_ca_file."
  type        = string
  default     = null
}

variable "tls_cert_file" {
  description = "Absolute path of the server certificate inside the container, e.g. /data/tls/server.crt on the EFS volume."
  type        = string
  default     = null

  validation {
    condition     = !var.tls_enabled || ((var.tls_cert_file == null) != (var.tls_cert_secret_arn == null) && (var.tls_key_file == null) != (var.tls_key_secret_arn == null))
    error_message = "With tls_enabled, give the certificate and the key each exactly once: tls_cert_secret_arn or tls_cert_file, and tls_key_secret_arn or tls_key_file."
  }

  validation {
    condition     = alltrue([for p in [var.tls_cert_file, var.tls_key_file, var.tls_ca_file] : p == null || can(regex("^/[^ '\"$`]+$", p))])
    error_message = "The tls_*_file paths must be absolute container paths without spaces, quotes, $ or backquotes."
  }
}

variable "tls_key_file" {
  description = "Absolute path of the server private key inside the container (see tls_cert_file)."
  type        = string
  default     = null
}

variable "tls_ca_file" {
  description = "Absolute path of the client CA bundle inside the container (see tls_ca_secret_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.tls_ca_file == null || var.tls_ca_secret_arn == null
    error_message = "Give the CA bundle once: tls_ca_secret_arn or tls_ca_file."
  }
}

variable "tls_auth_clients" {
  description = "tls-auth-clients: \"no\" (passwords authenticate, clients need no certificate), \"optional\" or \"yes\" (both need a CA)."
  type        = string
  default     = "no"

  validation {
    condition     = contains(["no", "optional", "yes"], var.tls_auth_clients)
    error_message = "The tls_auth_clients must be no, optional or yes."
  }

  validation {
    condition     = var.tls_auth_clients == "no" || var.tls_ca_file != null || var.tls_ca_secret_arn != null
    error_message = "tls_auth_clients = optional or yes checks client certificates against a CA: set tls_ca_secret_arn or tls_ca_file."
  }
}
