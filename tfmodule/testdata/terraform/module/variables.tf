variable "name" {
  type    = string
  default = "valkey"
}

variable "image" {
  description = "Valkey image; no default, so only known at apply"
  type        = string
}

variable "save_rules" {
  description = "Valkey save points: pairs of <seconds> <changes>"
  type        = string
  default     = "900 1 300 10 60 10000"

  validation {
    condition     = can(regex("^(\\d+ \\d+)( \\d+ \\d+)*$", var.save_rules))
    error_message = "save_rules must be pairs of whole numbers."
  }
}

variable "stop_timeout" {
  type    = number
  default = 120
}
