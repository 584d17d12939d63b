# frozen_string_literal: true

# @summary A template's `%{name}` placeholders replaced by values that may be Sensitive (or Deferred
#   ones, resolved first when this runs as a Deferred value itself), as one Sensitive string.
#
# With encoding 'url' every value is percent-encoded (all but RFC 3986's unreserved characters), so
# that a password with '@', ':', '/' or '%' stays one URL component:
#   Deferred('st2::interpolate', ['amqp://%{user}:%{password}@rabbit1:5672/%{vhost}',
#                                 { 'user' => 'st2', 'password' => $password, 'vhost' => 'st2' }, 'url'])
Puppet::Functions.create_function(:'st2::interpolate') do
  # @param template A string with `%{name}` placeholders.
  # @param values The value of each placeholder.
  # @param encoding 'url' (percent-encode each value) or 'plain'.
  # @return [Sensitive[String]] The filled template.
  dispatch :interpolate do
    param 'String', :template
    param 'Hash[String[1], Variant[String, Integer, Sensitive[Variant[String, Integer]]]]', :values
    optional_param 'Enum[url, plain]', :encoding
  end

  def interpolate(template, values, encoding = 'plain')
    sensitive = Puppet::Pops::Types::PSensitiveType::Sensitive
    plain = values.transform_values { |v| (v.is_a?(sensitive) ? v.unwrap : v).to_s }
    filled = template.gsub(/%\{([^}]+)\}/) do
      name = Regexp.last_match(1)
      raise Puppet::Error, "st2::interpolate: no value for %{#{name}}" unless plain.key?(name)
      encoding == 'url' ? plain[name].b.gsub(/[^A-Za-z0-9\-._~]/) { |c| format('%%%02X', c.ord) } : plain[name]
    end
    sensitive.new(filled)
  end
end
