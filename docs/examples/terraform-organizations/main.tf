# An organization, an OU with a service control policy, and a member account, with Terraform's
# hashicorp/aws provider against Rampart. Start `rampart serve --dev`, then:
#   terraform init && terraform apply && terraform plan   # no changes
#   terraform destroy
# (Checked by hand against hashicorp/aws; see the issue notes.)

variable "endpoint" {
  default = "http://127.0.0.1:4566"
}

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    organizations = var.endpoint
    iam           = var.endpoint
    sts           = var.endpoint
  }
}

resource "aws_organizations_organization" "org" {
  feature_set          = "ALL"
  enabled_policy_types = ["SERVICE_CONTROL_POLICY"]
}

resource "aws_organizations_organizational_unit" "prod" {
  name      = "Prod"
  parent_id = aws_organizations_organization.org.roots[0].id
}

resource "aws_organizations_policy" "fence" {
  depends_on = [aws_organizations_organization.org]
  name       = "fence"
  type       = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Deny", Action = "ec2:*", Resource = "*" }]
  })
}

resource "aws_organizations_policy_attachment" "prod" {
  policy_id = aws_organizations_policy.fence.id
  target_id = aws_organizations_organizational_unit.prod.id
}

resource "aws_organizations_account" "member" {
  name              = "member"
  email             = "member@example.com"
  parent_id         = aws_organizations_organizational_unit.prod.id
  close_on_deletion = false
}
