terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # State lives wherever the rest of the estate keeps it: supply a backend with
  # `terraform init -backend-config=...` (see terraform/README.md).
}
