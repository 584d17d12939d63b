# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::interpolate' do
  let(:sensitive_class) { Puppet::Pops::Types::PSensitiveType::Sensitive }

  it 'percent-encodes every value of a URL, Sensitive or not, and returns a Sensitive' do
    result = subject.execute('amqp://%{user}:%{password}@mq1:5672/%{vhost}',
                             { 'user' => 'st2 ops', 'password' => sensitive_class.new('p@ss:w/rd%41#?é'), 'vhost' => '/' }, 'url')
    expect(result).to be_a(sensitive_class)
    expect(result.unwrap).to eq('amqp://st2%20ops:p%40ss%3Aw%2Frd%2541%23%3F%C3%A9@mq1:5672/%2F')
  end

  it 'leaves RFC 3986 unreserved characters alone' do
    expect(subject.execute('%{a}', { 'a' => 'AZaz09-._~' }, 'url').unwrap).to eq('AZaz09-._~')
  end

  it 'fills plain text as it is' do
    expect(subject.execute('requirepass %{password}', { 'password' => sensitive_class.new('p@ss') }).unwrap).to eq('requirepass p@ss')
  end

  it { is_expected.to run.with_params('%{missing}', {}).and_raise_error(%r{no value for %\{missing\}}) }
end
