terraform {
  # 1.9: validations that compare variables with each other; the tests use
  # mock_provider (1.7).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80"
    }
  }
}
